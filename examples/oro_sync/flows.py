"""The sync declaration: source customers → OroCommerce ``customers``, incremental.

Configuration comes from the environment (never secrets in code)::

    SOURCE_URL=https://source-system.example/api/
    ORO_API_URL=https://commerce.example/admin/api/
    ORO_TOKEN_URL=https://commerce.example/oauth2-token
    ORO_CLIENT_ID=…  ORO_CLIENT_SECRET=…

Run it with ``python -m examples.oro_sync`` or ``interlink sync run customers -m
examples.oro_sync.flows``; ``interlink sync status`` and ``interlink sync conflicts`` show
its state. Without systems of your own, ``python -m examples.oro_sync --demo`` runs it against
local stand-ins.
"""

from __future__ import annotations

import os

from interlink.flows import JsonApiTarget, RestSource, Sync
from interlink.http import APIClient

from examples.oro_sync.oro_api_client import OroApiClient

SETTINGS = ("SOURCE_URL", "ORO_API_URL", "ORO_TOKEN_URL", "ORO_CLIENT_ID", "ORO_CLIENT_SECRET")
if missing := [name for name in SETTINGS if not os.environ.get(name)]:
    raise RuntimeError(f"examples.oro_sync needs {', '.join(missing)} in the environment (see its flows.py); "
                       "to try it without systems of your own: python -m examples.oro_sync --demo")


def transform(customer: dict) -> dict:
    """A source customer as OroCommerce ``customers`` attributes."""
    return {"name": customer["name"]}


customers = Sync(
    "customers",
    source=RestSource(APIClient(os.environ["SOURCE_URL"]), "api/customers",
                      id="id", cursor="updated_at", page_size=int(os.environ.get("SOURCE_PAGE_SIZE", "200"))),
    transform=transform,
    target=JsonApiTarget(
        OroApiClient(os.environ["ORO_API_URL"], os.environ["ORO_TOKEN_URL"],
                     os.environ["ORO_CLIENT_ID"], os.environ["ORO_CLIENT_SECRET"]),
        type="customers",
        # An attribute holding the source id, so a run stopped mid-create never duplicates.
        match="externalId",
    ),
    conflict="source_wins",
)

if __name__ == "__main__":
    customers.run()
