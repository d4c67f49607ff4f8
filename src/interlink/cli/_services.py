"""``interlink services add|list|check``: service records for clients of other services.

    interlink services add zaken https://zaken.example.org/api/v1 --auth oauth2_client_credentials \\
        --client-id me --secret-env ZAKEN_SECRET --token-url https://auth.example.org/token
    interlink services list
    interlink services check zaken      # a connection test: reports the failure, no traceback

Secrets are read from an environment variable or a prompt (never from the command line,
where they would land in shell history and ``ps``) and stored encrypted with
``INTERLINK_SECRET_KEY``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ._common import CliError, print_table, state

__all__ = ["services"]


def _read_secret(env_name: str | None, prompt: bool, what: str) -> str | None:
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise CliError(f"environment variable {env_name} (for the {what}) is not set")
        return value
    if prompt:
        return click.prompt(what, hide_input=True)
    return None


@click.group(short_help="Service records for clients of other services.")
def services() -> None:
    """Service records: base URL, auth and TLS for clients of other services."""


@services.command("add")
@click.argument("slug")
@click.argument("base_url")
@click.option("--label", default="")
@click.option("--auth", "auth_type", default="none",
              type=click.Choice(["none", "basic", "api_key", "bearer", "oauth2_client_credentials", "jwt"]))
@click.option("--username", default="")
@click.option("--client-id", default="")
@click.option("--token-url", default="")
@click.option("--scope", default="")
@click.option("--client-auth-method", default="client_secret_basic",
              type=click.Choice(["client_secret_basic", "client_secret_post"]))
@click.option("--api-key-header", default="")
@click.option("--api-key-query", default="")
@click.option("--jwt-lifetime", default=43200, type=int)
@click.option("--secret-env", default=None, help="Read the password/key/client secret from this variable.")
@click.option("--prompt-secret", is_flag=True, help="Prompt for the secret.")
@click.option("--client-cert", type=click.Path(exists=True, dir_okay=False), help="PEM file; its content is stored.")
@click.option("--client-key", type=click.Path(exists=True, dir_okay=False), help="PEM file; stored encrypted.")
@click.option("--server-ca", type=click.Path(exists=True, dir_okay=False), help="PEM file; its content is stored.")
@click.option("--timeout", type=float, default=None)
@click.option("--header", "headers", multiple=True, help="Extra header 'Name: value' (repeatable).")
def add(slug: str, base_url: str, label: str, auth_type: str, username: str, client_id: str, token_url: str,
        scope: str, client_auth_method: str, api_key_header: str, api_key_query: str, jwt_lifetime: int,
        secret_env: str | None, prompt_secret: bool, client_cert: str | None, client_key: str | None,
        server_ca: str | None, timeout: float | None, headers: tuple[str, ...]) -> None:
    """Add a service record."""
    from interlink.http import InvalidURLError
    from interlink.store._encryption import SecretKeyMissing
    from interlink.store._services import Service, find_service

    extra: dict[str, str] = {}
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep:
            raise click.BadParameter(f"must look like 'Name: value', got {header!r}", param_hint="--header")
        extra[name.strip()] = value.strip()
    secret = _read_secret(secret_env, prompt_secret, "secret")
    try:
        with state().database().session() as session:
            if find_service(session, slug) is not None:
                raise CliError(f"service {slug!r} already exists")
            service = Service(
                slug=slug, label=label or slug, base_url=base_url, auth_type=auth_type, username=username,
                client_id=client_id, token_url=token_url, scope=scope, client_auth_method=client_auth_method,
                api_key_header=api_key_header, api_key_query=api_key_query, jwt_lifetime=jwt_lifetime,
                timeout=timeout, extra_headers=extra,
                client_certificate=Path(client_cert).read_text() if client_cert else None,
                server_ca=Path(server_ca).read_text() if server_ca else None,
                secret=secret, client_private_key=Path(client_key).read_text() if client_key else None,
            )
            session.add(service)
            click.echo(f"{service.slug} {service.base_url}")
    except (SecretKeyMissing, InvalidURLError, ValueError) as exc:
        raise CliError(str(exc)) from None


@services.command("list")
def list_() -> None:
    """List service records (secrets are never shown)."""
    from interlink.store import list_services

    with state().database().session() as session:
        rows = [
            (s.slug, s.base_url, s.auth_type, "yes" if s.secret_encrypted else "no",
             "yes" if s.client_certificate else "no", s.label)
            for s in list_services(session)
        ]
    print_table("services", ["slug", "base URL", "auth", "secret", "mTLS", "label"], rows)


@services.command("check")
@click.argument("slug")
@click.option("--path", default="", help="Path under the base URL to request (default: the base URL).")
def check(slug: str, path: str) -> None:
    """Connection test: request the base URL (or --path) with the service's settings."""
    import httpx

    from interlink.http import build_client
    from interlink.store._services import find_service

    with state().database().session() as session:
        service = find_service(session, slug)
        if service is None:
            raise CliError(f"no service {slug!r}")
        try:
            with build_client(service) as client:
                response = client.get(path)
        except httpx.HTTPError as exc:
            raise CliError(f"{slug}: cannot connect: {type(exc).__name__}: {exc}") from None
        except Exception as exc:  # token errors, bad certificates, missing key: a line, not a traceback
            raise CliError(f"{slug}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        raise CliError(f"{slug}: {response.request.url} answered HTTP {response.status_code}")
    click.echo(f"{slug}: OK (HTTP {response.status_code})")
