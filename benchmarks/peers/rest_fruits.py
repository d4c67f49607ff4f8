"""The rest-tools README's ``Fruits`` handler (POST, ``ArgumentHandler`` over a JSON body),
served by ``interlink.rest`` or by ``rest_tools.server``: the same code, only the import differs.

``python -m benchmarks.peers.rest_fruits interlink|rest-tools PORT``
"""

from __future__ import annotations

import asyncio
import sys

ORIGINS = {"USA": "United States of America", "MEX": "Mexico"}


def serve(impl: str, port: int) -> None:
    if impl == "interlink":
        from interlink.rest import (
            ArgumentHandler,
            ArgumentSource,
            RestHandler,
            RestHandlerSetup,
            RestServer,
        )
    elif impl == "rest-tools":
        from rest_tools.server import (
            ArgumentHandler,
            ArgumentSource,
            RestHandler,
            RestHandlerSetup,
            RestServer,
        )
    else:
        raise SystemExit(f"unknown implementation {impl!r}")

    class Fruits(RestHandler):
        def post(self) -> None:
            argo = ArgumentHandler(ArgumentSource.JSON_BODY_ARGUMENTS, self)
            argo.add_argument("name", type=str)
            argo.add_argument("other-names", type=list, default=[])
            argo.add_argument("supply", type=dict, required=True)

            def _origin(val: str) -> str:
                try:
                    return ORIGINS[val]
                except KeyError:
                    raise ValueError("Invalid origin") from None

            argo.add_argument("country_code", dest="origin", type=_origin, required=True)
            args = argo.parse_args()
            self.write({"name": args.name, "other_names": args.other_names, "supply": args.supply, "origin": args.origin})

    async def main() -> None:
        server = RestServer()
        server.add_route("/fruits", Fruits, RestHandlerSetup({}))
        server.startup(address="127.0.0.1", port=port)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
