"""``python -m examples.oro_sync``: run the customers sync once, configured from the environment
(see ``flows.py``); ``python -m examples.oro_sync --demo``: try it with nothing else running.

``--demo`` starts local stand-ins for the source, OroCommerce's JSON:API and its OAuth2 token
endpoint on free loopback ports (``standins.py``), keeps the sync's state in a temporary SQLite
file, and runs the sync twice: the first run creates every customer, the second (after a few
customers changed at the source) reads and updates only those. Then it stops the stand-ins.
Each run is a Prefect flow; without ``PREFECT_API_URL`` Prefect starts a temporary server of its
own first (a few seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

# As `interlink sync run` does: a busy machine may need longer than Prefect's 20 s to start its
# temporary server. Only defaults; a value set by the user wins.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def demo(records: int, changed: int) -> int:
    from examples.oro_sync.standins import Serving, Systems, source_app, target_app, token_app

    systems = Systems()
    systems.fill(records)
    servers = [Serving(source_app(systems)), Serving(token_app(systems)), Serving(target_app(systems))]
    source, tokens, target = (server.url for server in servers)
    state = tempfile.TemporaryDirectory(prefix="oro-sync-demo-")
    try:
        os.environ.update({
            "SOURCE_URL": f"{source}/", "ORO_API_URL": f"{target}/", "ORO_TOKEN_URL": f"{tokens}/token",
            "ORO_CLIENT_ID": systems.client_id, "ORO_CLIENT_SECRET": systems.client_secret,
            "INTERLINK_DATABASE_URL": f"sqlite:///{state.name}/sync-state.db",
        })
        for key, value in PREFECT_DEFAULTS.items():
            os.environ.setdefault(key, value)
        print(f"source      {source}/api/customers  ({records} customers)")
        print(f"token       {tokens}/token")
        print(f"target      {target}/customers  (JSON:API)")
        print(f"sync state  {state.name}/sync-state.db\n")

        from examples.oro_sync.flows import customers

        print("First run: every customer is created at the target.")
        first = customers.run()
        for id_ in range(1, changed + 1):
            systems.put(id_, f"{systems.customers[id_]['name']} (renamed)")
        print(f"\n{changed} customers renamed at the source. Second run: only those are read and updated.")
        second = customers.run()
        ok = first.created == records and second.updated == changed and len(systems.rows) == records
        print(f"\nThe target holds {len(systems.rows)} customers. "
              f"{'Done' if ok else 'Unexpected counts: see the summaries above'}; the stand-ins stop now.")
        return 0 if ok else 1
    finally:
        for server in servers:
            server.stop()
        from interlink.flows import store_of

        if "examples.oro_sync.flows" in sys.modules:
            store_of(sys.modules["examples.oro_sync.flows"].customers).dispose()
        state.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.oro_sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", action="store_true", help="run twice against local stand-ins, then stop them")
    parser.add_argument("--records", type=int, default=500, help="customers in the demo's source (500)")
    parser.add_argument("--changed", type=int, default=5, help="customers changed before the demo's second run (5)")
    args = parser.parse_args(argv)
    if args.demo:
        if not 1 <= args.changed <= args.records:
            parser.error("--changed must be between 1 and --records")
        return demo(args.records, args.changed)
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    from examples.oro_sync.flows import customers

    customers.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
