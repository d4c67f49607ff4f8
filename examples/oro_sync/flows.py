"""The sync declaration: source customers → OroCommerce ``customers``, incremental.

Configuration comes from the environment (never secrets in code)::

    SOURCE_URL=https://source-system.example/api/
    ORO_API_URL=https://commerce.example/admin/api/
    ORO_TOKEN_URL=https://commerce.example/oauth2-token
    ORO_CLIENT_ID=…  ORO_CLIENT_SECRET=…

Run it with ``python -m examples.oro_sync.flows`` or ``interlink sync run customers -m
examples.oro_sync.flows``; ``interlink sync status`` and ``interlink sync conflicts`` show
its state.
"""

from __future__ import annotations

import os

from interlink.flows import JsonApiTarget, RestSource, Sync
from interlink.http import APIClient

from examples.oro_sync.oro_api_client import OroApiClient


def transform(customer: dict) -> dict:
    """A source customer as OroCommerce ``customers`` attributes."""
    return {"name": customer["name"]}


customers = Sync(
    "customers",
    source=RestSource(APIClient(os.environ.get("SOURCE_URL", "http://127.0.0.1:8001/")), "api/customers",
                      id="id", cursor="updated_at", page_size=int(os.environ.get("SOURCE_PAGE_SIZE", "200"))),
    transform=transform,
    target=JsonApiTarget(
        OroApiClient(os.environ.get("ORO_API_URL", "http://127.0.0.1:8002/"),
                     os.environ.get("ORO_TOKEN_URL", "http://127.0.0.1:8003/token"),
                     os.environ.get("ORO_CLIENT_ID", ""), os.environ.get("ORO_CLIENT_SECRET", "")),
        type="customers",
        # An attribute holding the source id, so a run stopped mid-create never duplicates.
        match="externalId",
    ),
    conflict="source_wins",
)

if __name__ == "__main__":
    customers.run()
