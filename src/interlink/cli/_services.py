"""``interlink services add|list|check``: service records for clients of other services.

    interlink services add zaken https://zaken.example.org/api/v1 --auth oauth2_client_credentials \\
        --client-id me --secret-env ZAKEN_SECRET --token-url https://auth.example.org/token
    interlink services list
    interlink services check zaken      # a connection test: reports the failure, no traceback

    interlink services add brp https://brp.example.org/soap/ --soap-version 1.2 --wsdl '?wsdl' \
        --auth basic --username me --secret-env BRP_PW --wsse-username-token --wsse-timestamp 300
    interlink services check brp --operation Echo --arg text=hi   # loads the WSDL, calls Echo
    interlink services add stuf-bg https://stuf.example.org/ --soap-version 1.2 --stuf-sector bg \
        --stuf-zender applicatie=interlink --stuf-ontvanger applicatie=BRP \
        --stuf-endpoint beantwoord_vraag=BeantwoordVraag

Secrets are read from an environment variable or a prompt (never from the command line,
where they would land in shell history and ``ps``) and stored encrypted with
``INTERLINK_SECRET_KEY``; a base URL with a password in it (``https://user:pw@host/``) is
refused for the same reason. Every URL printed goes through ``interlink.urls.redact_url``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from interlink.service_auth import AUTH_TYPE_ALIASES, AUTH_TYPES
from interlink.urls import has_userinfo, redact_url, redact_urls

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
@click.option("--auth", "auth_type", default="no_auth",
              type=click.Choice([*AUTH_TYPES, *AUTH_TYPE_ALIASES]))
@click.option("--username", default="")
@click.option("--client-id", default="")
@click.option("--token-url", default="")
@click.option("--scope", default="")
@click.option("--client-auth-method", default="client_secret_basic_raw",
              type=click.Choice(["client_secret_basic_raw", "client_secret_basic", "client_secret_post"]))
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
@click.option("--soap-version", type=click.Choice(["1.1", "1.2"]), default=None, help="A SOAP/StUF service.")
@click.option("--wsdl", default=None, help="WSDL location, relative to the base URL (default: the base URL).")
@click.option("--operation-timeout", type=float, default=None, help="Seconds for SOAP calls.")
@click.option("--wsse-username-token", is_flag=True, help="WS-Security UsernameToken (username + secret).")
@click.option("--wsse-digest", is_flag=True, help="PasswordDigest instead of PasswordText.")
@click.option("--wsse-timestamp", type=int, default=0, help="Add a wsu:Timestamp valid this many seconds.")
@click.option("--wsse-signature", type=click.Choice(["none", "signature", "binary"]), default="none",
              help="Sign messages with the client certificate and key.")
@click.option("--wsse-reply-cert", type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate that signs the service's replies.")
@click.option("--accept-unsigned-replies", is_flag=True, help="With --wsse-signature: accept unsigned replies.")
@click.option("--stuf-sector", default=None, help="A StUF service: sector alias in the SOAPAction (bg, zkn...).")
@click.option("--stuf-zender", multiple=True, help="StUF zender field NAME=VALUE (organisatie, applicatie, ...).")
@click.option("--stuf-ontvanger", multiple=True, help="StUF ontvanger field NAME=VALUE.")
@click.option("--stuf-endpoint", multiple=True,
              help="StUF endpoint TYPE=PATH (beantwoord_vraag, vrije_berichten, ontvang_asynchroon).")
def add(slug: str, base_url: str, label: str, auth_type: str, username: str, client_id: str, token_url: str,
        scope: str, client_auth_method: str, api_key_header: str, api_key_query: str, jwt_lifetime: int,
        secret_env: str | None, prompt_secret: bool, client_cert: str | None, client_key: str | None,
        server_ca: str | None, timeout: float | None, headers: tuple[str, ...], soap_version: str | None,
        wsdl: str | None, operation_timeout: float | None, wsse_username_token: bool, wsse_digest: bool,
        wsse_timestamp: int, wsse_signature: str, wsse_reply_cert: str | None, accept_unsigned_replies: bool,
        stuf_sector: str | None, stuf_zender: tuple[str, ...], stuf_ontvanger: tuple[str, ...],
        stuf_endpoint: tuple[str, ...]) -> None:
    """Add a service record (a JSON, SOAP or StUF service)."""
    from interlink.http import InvalidURLError

    # Before anything is read or stored: the store refuses these too, but here the message can
    # name the options to use instead.
    if has_userinfo(base_url):
        raise CliError(
            f"base URL {redact_url(base_url)!r} holds a user name or password: leave them out of the URL "
            "and pass --auth basic --username NAME --secret-env VARIABLE (or --prompt-secret); "
            "the secret is stored encrypted"
        )
    if has_userinfo(token_url):
        raise CliError(
            f"--token-url {redact_url(token_url)!r} holds a user name or password: leave them out of the URL "
            "and pass --client-id ID --secret-env VARIABLE (or --prompt-secret); the secret is stored encrypted"
        )
    from interlink.store import SecretKeyMissing
    from interlink.store._services import Service, find_service

    extra: dict[str, str] = {}
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep:
            raise click.BadParameter(f"must look like 'Name: value', got {header!r}", param_hint="--header")
        extra[name.strip()] = value.strip()
    options = _protocol_options(
        soap_version=soap_version, wsdl=wsdl, operation_timeout=operation_timeout,
        wsse_username_token=wsse_username_token, wsse_digest=wsse_digest, wsse_timestamp=wsse_timestamp,
        wsse_signature=wsse_signature, wsse_reply_cert=wsse_reply_cert, accept_unsigned_replies=accept_unsigned_replies,
        stuf_sector=stuf_sector, stuf_zender=stuf_zender, stuf_ontvanger=stuf_ontvanger, stuf_endpoint=stuf_endpoint,
    )
    secret = _read_secret(secret_env, prompt_secret, "secret")
    try:
        with state().database(create=True).session() as session:
            if find_service(session, slug) is not None:
                raise CliError(f"service {slug!r} already exists")
            service = Service(
                slug=slug, label=label or slug, base_url=base_url, auth_type=auth_type, username=username,
                client_id=client_id, token_url=token_url, scope=scope, client_auth_method=client_auth_method,
                api_key_header=api_key_header, api_key_query=api_key_query, jwt_lifetime=jwt_lifetime,
                timeout=timeout, extra_headers=extra, options=options,
                client_certificate=Path(client_cert).read_text() if client_cert else None,
                server_ca=Path(server_ca).read_text() if server_ca else None,
                secret=secret, client_private_key=Path(client_key).read_text() if client_key else None,
            )
            session.add(service)
            click.echo(f"{service.slug} {redact_url(service.base_url)}")
    except (SecretKeyMissing, InvalidURLError, ValueError) as exc:
        raise CliError(redact_urls(str(exc))) from None


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"must look like NAME=VALUE, got {value!r}", param_hint=option)
        result[name.strip()] = text.strip()
    return result


def _protocol_options(*, soap_version: str | None, wsdl: str | None, operation_timeout: float | None,
                      wsse_username_token: bool, wsse_digest: bool, wsse_timestamp: int, wsse_signature: str,
                      wsse_reply_cert: str | None, accept_unsigned_replies: bool, stuf_sector: str | None,
                      stuf_zender: tuple[str, ...], stuf_ontvanger: tuple[str, ...],
                      stuf_endpoint: tuple[str, ...]) -> dict[str, object]:
    """The record's ``options`` ({"soap": ..., "stuf": ...}) from the command line; checked by
    the same readers the clients use, so a record the CLI stores is one the clients accept."""
    wsse: dict[str, object] = {}
    if wsse_username_token:
        wsse["username_token"] = True
    if wsse_digest:
        wsse["password_digest"] = True
    if wsse_timestamp:
        wsse["timestamp"] = wsse_timestamp
    if wsse_signature != "none":
        wsse["signature"] = wsse_signature
    if wsse_reply_cert:
        wsse["reply_certificate"] = Path(wsse_reply_cert).read_text()
    if accept_unsigned_replies:
        wsse["accept_unsigned_replies"] = True
    soap: dict[str, object] = {}
    if soap_version:
        soap["version"] = soap_version
    if wsdl:
        soap["wsdl"] = wsdl
    if operation_timeout:
        soap["operation_timeout"] = operation_timeout
    if wsse:
        soap["wsse"] = wsse
    stuf: dict[str, object] = {}
    if stuf_sector:
        stuf["sector_alias"] = stuf_sector
    if stuf_zender:
        stuf["zender"] = _pairs(stuf_zender, "--stuf-zender")
    if stuf_ontvanger:
        stuf["ontvanger"] = _pairs(stuf_ontvanger, "--stuf-ontvanger")
    if stuf_endpoint:
        stuf["endpoints"] = _pairs(stuf_endpoint, "--stuf-endpoint")
    options: dict[str, object] = {}
    if soap or stuf:
        options["soap"] = soap
    if stuf:
        options["stuf"] = stuf
    if options:
        try:
            from interlink.soap import soap_options
            from interlink.stuf import stuf_options
        except ImportError as exc:
            raise CliError(str(exc)) from None
        record = type("_Options", (), {"options": options})()
        try:
            soap_options(record)
            stuf_options(record)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    return options


@services.command("list")
def list_() -> None:
    """List service records (secrets are never shown)."""
    from interlink.store import list_services

    with state().database().session() as session:
        rows = [
            # redacted: a record stored before userinfo was refused may still hold a password
            (s.slug, _kind(s), redact_url(s.base_url), s.auth_type, "yes" if s.secret_encrypted else "no",
             "yes" if s.client_certificate else "no", s.label)
            for s in list_services(session)
        ]
    print_table("services", ["slug", "kind", "base URL", "auth", "secret", "mTLS", "label"], rows)


def _kind(service: object) -> str:
    options = getattr(service, "options", None) or {}
    return "stuf" if "stuf" in options else "soap" if "soap" in options else "http"


@services.command("check")
@click.argument("slug")
@click.option("--path", default="", help="Path under the base URL to request (default: the base URL).")
@click.option("--soap", "as_soap", is_flag=True, help="Check as a SOAP service (implied for SOAP records).")
@click.option("--operation", default=None, help="SOAP: call this operation after loading the WSDL.")
@click.option("--arg", "args", multiple=True, help="SOAP: an argument NAME=VALUE for --operation (repeatable).")
def check(slug: str, path: str, as_soap: bool, operation: str | None, args: tuple[str, ...]) -> None:
    """Connection test: request the base URL (or --path) with the service's settings; for a
    SOAP record, load its WSDL through the same client (and call --operation)."""
    import httpx

    from interlink.http import build_client
    from interlink.store._services import find_service

    with state().database().session() as session:
        service = find_service(session, slug)
        if service is None:
            raise CliError(f"no service {slug!r}")
        if as_soap or operation or (service.options or {}).get("soap") is not None:
            _check_soap(slug, service, operation, _pairs(args, "--arg"))
            return
        # The record's API key may travel in a query parameter of any name: redact that one too.
        own = (service.api_key_query,) if service.api_key_query else ()
        try:
            with build_client(service) as client:
                response = client.get(path)
        except httpx.HTTPError as exc:
            raise CliError(f"{slug}: cannot connect: {type(exc).__name__}: {redact_urls(str(exc), also=own)}") from None
        except Exception as exc:  # token errors, bad certificates, missing key: a line, not a traceback
            raise CliError(f"{slug}: {type(exc).__name__}: {redact_urls(str(exc), also=own)}") from None
    if response.status_code >= 400:
        shown = redact_url(response.request.url, also=own)
        raise CliError(f"{slug}: {shown} answered HTTP {response.status_code}")
    click.echo(f"{slug}: OK (HTTP {response.status_code})")


def _check_soap(slug: str, service: object, operation: str | None, arguments: dict[str, str]) -> None:
    import httpx

    own = (getattr(service, "api_key_query", ""),)
    try:
        from interlink.soap import SoapError, SoapFault, build_soap_client
    except ImportError as exc:
        raise CliError(str(exc)) from None
    try:
        with build_soap_client(service, cache_seconds=0) as client:
            operations = sorted(name for name, _ in client.service)
            if operation is None:
                click.echo(f"{slug}: OK (WSDL loaded, {len(operations)} operations: {', '.join(operations)})")
                return
            if operation not in operations:
                raise CliError(f"{slug}: no operation {operation!r}; the WSDL has {', '.join(operations)}")
            result = client.service[operation](**arguments)
    except SoapFault as exc:
        raise CliError(f"{slug}: SOAP Fault {redact_urls(str(exc), also=own)}") from None
    except SoapError as exc:
        raise CliError(f"{slug}: {type(exc).__name__}: {redact_urls(str(exc), also=own)}") from None
    except httpx.HTTPError as exc:
        raise CliError(f"{slug}: cannot connect: {type(exc).__name__}: {redact_urls(str(exc), also=own)}") from None
    except CliError:
        raise
    except Exception as exc:  # bad arguments, certificates, missing key: a line, not a traceback
        raise CliError(f"{slug}: {type(exc).__name__}: {redact_urls(str(exc), also=own)}") from None
    click.echo(f"{slug}: OK ({operation} -> {result!r})")
