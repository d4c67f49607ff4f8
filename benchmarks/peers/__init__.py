"""The three servers `bench_server` measures: the same method written for interlink, FastAPI and
plain Starlette. Each is an ASGI app named ``app`` in its module, started by uvicorn."""
