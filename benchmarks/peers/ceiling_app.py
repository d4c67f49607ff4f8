"""The ceiling: a raw ASGI app that reads the body and sends the expected JSON, checking nothing.

No parsing, no key, no framework: what uvicorn (uvloop, httptools) and the kernel cost for this
request and answer on their own. A server can only approach this rate; how close interlink's
default path gets is the share of a call that is uvicorn's, not interlink's.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.peers import common

BODY = json.dumps(common.expected_answer(), separators=(",", ":")).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
START = {"type": "http.response.start", "status": 200, "headers": HEADERS}
ANSWER = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # read the whole body, as every other peer does
        message = await receive()
        more = message.get("more_body", False)
    await send(START)
    await send(ANSWER)
