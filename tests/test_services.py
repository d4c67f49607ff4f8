"""Service records: encryption at rest, lookup, build_client against real peers, the CLI."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import text

from interlink.http import AsyncAPIClient, build_client
from interlink.store import Service, find_service, find_service_for_url
from interlink.store._encryption import SecretKeyMissing


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("INTERLINK_SECRET_KEY", key)
    return key


def test_secrets_are_encrypted_at_rest(database, secret_key) -> None:
    with database.session() as session:
        session.add(Service(slug="s", base_url="https://h/api", auth_type="basic", username="u",
                            secret="hunter2-password", client_private_key="-----BEGIN PRIVATE KEY-----x"))
    with database.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM interlink_services")).mappings().one()
    assert "hunter2" not in str(dict(row)) and "BEGIN PRIVATE KEY" not in str(dict(row))
    assert row["base_url"] == "https://h/api"  # as configured (clients treat it as a directory)
    with database.session() as session:
        service = find_service(session, "s")
        assert service.get_secret() == "hunter2-password"
        assert service.get_client_private_key() == "-----BEGIN PRIVATE KEY-----x"


def test_storing_a_secret_without_a_key_is_a_clear_error(database, monkeypatch) -> None:
    monkeypatch.delenv("INTERLINK_SECRET_KEY", raising=False)
    with pytest.raises(SecretKeyMissing, match="INTERLINK_SECRET_KEY"):
        Service(slug="s", base_url="https://h/", auth_type="bearer", secret="x")
    Service(slug="n", base_url="https://h/", auth_type="none")  # no secret, no key needed


def test_longest_prefix_lookup(database) -> None:
    with database.session() as session:
        session.add_all([
            Service(slug="root", base_url="https://h/"),
            Service(slug="api", base_url="https://h/api"),
            Service(slug="v2", base_url="https://h/api/v2/"),
        ])
    with database.session() as session:
        assert find_service_for_url(session, "https://h/api/v2/zaken?x=1").slug == "v2"
        assert find_service_for_url(session, "https://h/api/v1/zaken").slug == "api"
        assert find_service_for_url(session, "https://h/api-other").slug == "root"
        assert find_service_for_url(session, "https://h.evil.org/api/v2/") is None


def test_token_use_client_tls_is_stored_with_the_record(database) -> None:
    """Off by default (a public identity provider); a stored record can say its token endpoint
    wants the service's own TLS, and keeps its other options beside it."""
    with database.session() as session:
        session.add_all([
            Service(slug="public-idp", base_url="https://h/a/"),
            Service(slug="own-idp", base_url="https://h/b/", token_use_client_tls=True, options={"soap": {}}),
        ])
    with database.session() as session:
        assert find_service(session, "public-idp").token_use_client_tls is False
        own = find_service(session, "own-idp")
        assert own.token_use_client_tls is True
        assert own.options == {"soap": {}, "http": {"token_use_client_tls": True}}
        own.token_use_client_tls = False
    with database.session() as session:
        assert find_service(session, "own-idp").token_use_client_tls is False


def test_build_client_with_api_key_headers_and_timeout(database, secret_key, resource_server) -> None:
    with database.session() as session:
        session.add(Service(slug="fruit", base_url=resource_server.url + "/api", auth_type="api_key",
                            api_key_header="X-Api-Key", secret="k-123", timeout=3, extra_headers={"X-Tenant": "t1"}))
    with database.session() as session:
        service = find_service(session, "fruit")
        with build_client(service) as client:
            data = client.get("apples").json()
            assert client.timeout.read == 3
    assert data["path"] == "/api/apples"
    assert data["headers"]["x-api-key"] == "k-123" and data["headers"]["x-tenant"] == "t1"


def test_build_client_oauth2_shares_one_token_across_clients(database, secret_key, resource_server, oidc_provider, monkeypatch) -> None:
    from interlink.http import _service_client

    # The token cache is per process; start empty so each database's run fetches its own token.
    monkeypatch.setattr(_service_client, "_oauth2_cache", {})
    with database.session() as session:
        session.add(Service(slug="o", base_url=resource_server.url + "/api/", auth_type="oauth2_client_credentials",
                            client_id="svc-basic", secret="svc-basic-secret", token_url=oidc_provider.issuer + "/token",
                            scope="api"))
    before = oidc_provider.token_requests("client_credentials")
    with database.session() as session:
        service = find_service(session, "o")
    for _ in range(3):
        with build_client(service) as client:
            assert client.get("protected").status_code == 200

    import asyncio

    async def main() -> int:
        async with build_client(service, client_class=AsyncAPIClient) as client:
            return (await client.get("protected")).status_code

    assert asyncio.run(main()) == 200
    assert oidc_provider.token_requests("client_credentials") - before == 1


def test_build_client_mtls_from_stored_pem(database, secret_key, mtls_server, tls_pki) -> None:
    with database.session() as session:
        session.add(Service(slug="m", base_url=mtls_server.url + "/api", client_certificate=tls_pki.client_cert_pem,
                            client_private_key=tls_pki.client_key_pem, server_ca=tls_pki.ca_pem))
    with database.session() as session:
        with build_client(find_service(session, "m")) as client:
            assert client.get("x").json()["path"] == "/api/x"


def test_cli_add_list_check(database, database_url, secret_key, resource_server, monkeypatch, tmp_path) -> None:
    from interlink.cli import main

    runner = CliRunner()
    monkeypatch.setenv("FRUIT_KEY", "k-secret-value")
    result = runner.invoke(main, ["--database", database_url, "services", "add", "fruit", resource_server.url + "/api",
                                  "--auth", "api_key", "--api-key-header", "X-Api-Key", "--secret-env", "FRUIT_KEY",
                                  "--header", "X-Tenant: t1"])
    assert result.exit_code == 0, result.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    assert runner.invoke(main, ["--database", database_url, "services", "add", "dead", dead]).exit_code == 0
    result = runner.invoke(main, ["--database", database_url, "services", "list"])
    assert result.exit_code == 0 and "fruit" in result.output and "api_key" in result.output
    assert "k-secret-value" not in result.output
    result = runner.invoke(main, ["--database", database_url, "services", "check", "fruit", "--path", "ping"])
    assert result.exit_code == 0 and "OK" in result.output, result.output
    assert resource_server.state.hits == {}  # the echo route answered; nothing else touched
    result = runner.invoke(main, ["--database", database_url, "services", "check", "dead"])
    assert result.exit_code != 0
    assert "cannot connect" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["--database", database_url, "services", "add", "fruit", "https://x/"])
    assert result.exit_code != 0 and "already exists" in result.output


# -- no credentials in URLs we store or print ------------------------------------------------

PASSWORD = "hunter2-in-the-url"


@pytest.mark.parametrize(
    "field", [{"base_url": f"https://bob:{PASSWORD}@h.example/api"}, {"base_url": f"https://{PASSWORD}@h.example/"},
              {"base_url": "https://h.example/", "token_url": f"https://client:{PASSWORD}@idp.example/token"}],
)
def test_the_store_refuses_credentials_in_a_url(database, field) -> None:
    with pytest.raises(ValueError, match="holds a user name or password") as caught:
        Service(slug="s", **field)
    message = str(caught.value)
    assert PASSWORD not in message and "***@" in message
    assert ("username=" if "token_url" not in field else "client_id") in message  # what to do instead
    with database.session() as session:  # nor by setting the attribute later
        service = Service(slug="s", base_url="https://h.example/")
        session.add(service)
        with pytest.raises(ValueError, match="holds a user name or password"):
            for name, value in field.items():
                setattr(service, name, value)
    with database.engine.connect() as connection:
        assert PASSWORD not in str(connection.execute(text("SELECT * FROM interlink_services")).all())


def test_cli_refuses_a_password_in_the_base_url_and_says_what_to_use(database, database_url, secret_key) -> None:
    from interlink.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["--database", database_url, "services", "add", "brp", f"https://bob:{PASSWORD}@h.example/"])
    assert result.exit_code == 1
    assert PASSWORD not in result.output
    assert "--auth basic --username NAME --secret-env" in result.output and len(result.output.strip().splitlines()) == 1
    result = runner.invoke(main, ["--database", database_url, "services", "add", "idp", "https://h.example/",
                                  "--token-url", f"https://c:{PASSWORD}@idp.example/token"])
    assert result.exit_code == 1 and PASSWORD not in result.output and "--client-id" in result.output
    listing = runner.invoke(main, ["--database", database_url, "services", "list"])
    assert "brp" not in listing.output and "idp" not in listing.output


def test_cli_list_redacts_a_password_stored_before_it_was_refused(database, database_url) -> None:
    from interlink.cli import main

    with database.engine.begin() as connection:  # a row written by an older interlink
        connection.execute(text(
            "INSERT INTO interlink_services (slug, label, base_url, auth_type, username, client_id, token_url, scope,"
            " client_auth_method, api_key_header, api_key_query, jwt_lifetime, user_id, user_representation,"
            " extra_headers, options, created_at) VALUES ('old', 'old', :url, 'no_auth', '', '', '', '',"
            " 'client_secret_basic_raw', '', '', 43200, '', '', '{}', '{}', CURRENT_TIMESTAMP)"
        ), {"url": f"https://bob:{PASSWORD}@h.example/"})
    result = CliRunner().invoke(main, ["--database", database_url, "services", "list"])
    assert result.exit_code == 0 and "https://***@h.example/" in result.output and PASSWORD not in result.output


@pytest.mark.parametrize("parameter", ["api_key", "X-Tenant-Key"])
def test_cli_check_never_prints_the_query_api_key(database, database_url, secret_key, resource_server,
                                                  monkeypatch, parameter) -> None:
    """A real server on 127.0.0.1 answers 401; the error line names the URL without the key,
    whether the record's parameter has a well-known name or its own."""
    from interlink.cli import main

    runner = CliRunner()
    monkeypatch.setenv("QUERY_KEY", "k-query-secret-0123456789")
    added = runner.invoke(main, ["--database", database_url, "services", "add", "q", resource_server.url + "/api",
                                 "--auth", "api_key", "--api-key-query", parameter, "--secret-env", "QUERY_KEY"])
    assert added.exit_code == 0, added.output
    result = runner.invoke(main, ["--database", database_url, "services", "check", "q", "--path", "status/401?page=2"])
    assert result.exit_code == 1
    assert "answered HTTP 401" in result.output
    assert "k-query-secret" not in result.output
    assert f"{parameter}=***" in result.output and "page=2" in result.output
    assert resource_server.state.hits["status-401"] == 1  # the key did reach the server: this is its answer
