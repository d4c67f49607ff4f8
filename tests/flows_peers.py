"""Fixtures for the sync-flow tests: the JSON:API target and REST source peers, clients, a store.

Each test gets its own source and target (uvicorn threads on random loopback ports; starting
them costs milliseconds) so counts of requests are the test's own; the OpenID provider is the
session's (``peers_fixtures.oidc_provider``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from servers import UvicornThread

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from jsonapi_peer import SourceState, TargetState, jsonapi_app, source_app  # noqa: E402


@dataclass
class Peers:
    source: SourceState
    target: TargetState
    source_url: str
    target_url: str
    issuer: str

    def service(self) -> Any:
        """A service record for the target: OAuth2 client credentials, secret in the body."""
        return SimpleNamespace(
            base_url=self.target_url, auth_type="oauth2_client_credentials", token_url=f"{self.issuer}/token",
            client_id="svc-post", secret="svc-post-secret", client_auth_method="client_secret_post", scope="api",
        )

    def customers(self) -> list[dict[str, Any]]:
        return list(self.target.all("customers").values())


@pytest.fixture
def peers(oidc_provider: Any) -> Iterator[Peers]:
    source, target = SourceState(), TargetState(issuer=oidc_provider.issuer)
    servers = [UvicornThread(source_app(source)), UvicornThread(jsonapi_app(target))]
    urls = [server.start() for server in servers]
    yield Peers(source, target, urls[0], urls[1], oidc_provider.issuer)
    for server in servers:
        server.stop()


@pytest.fixture
def sync_database(tmp_path: Path) -> Any:
    from interlink.store import Database

    database = Database(f"sqlite:///{tmp_path / 'sync.db'}")
    database.migrate()
    yield database
    database.dispose()
