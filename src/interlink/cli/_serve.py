"""``interlink serve MODULE:ATTR``: run an ApiServer (or any ASGI app) under uvicorn.

A target that cannot be imported or found is a usage error (exit 2), like uvicorn's own.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from interlink.settings import DATABASE_URL_ENV

from ._common import CliError, check_database_url
from ._telemetry import telemetry_from_environment

__all__ = ["load_target", "serve"]


def load_target(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise click.UsageError(f"{target!r} is not MODULE:ATTR (e.g. mysite.api:api)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like uvicorn: the site's package is where we run
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise click.UsageError(f"cannot import {module_name!r}: {error}") from None
    try:
        obj: Any = module
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise click.UsageError(f"{module_name!r} has no attribute {attribute!r}") from None
    return obj


#: uvicorn's --loop for each choice; auto is interlink's (server/_event_loop.py says why).
LOOPS = {"auto": "interlink.server:new_event_loop", "asyncio": "asyncio", "uvloop": "uvloop"}
#: uvicorn's httptools protocol reading bodies in larger pieces (server/_http_protocol.py says why)
HTTP_PROTOCOL = "interlink.server._http_protocol:InterlinkHttpProtocol"
#: uvicorn releases whose protocol internals HTTP_PROTOCOL was written and tested against; with
#: any other, uvicorn's own protocol serves (the same answers; large uploads are slower)
TESTED_UVICORN = ("0.55.",)


def _http_protocol(uvicorn_version: str) -> str:
    if uvicorn_version.startswith(TESTED_UVICORN):
        return HTTP_PROTOCOL
    click.echo(f"interlink serve: uvicorn {uvicorn_version} is newer or older than the releases its HTTP "
               f"protocol was tested with ({', '.join(v + 'x' for v in TESTED_UVICORN)}): serving with "
               "uvicorn's own (large uploads are slower)", err=True)
    return "auto"


@click.command(short_help="Serve an interlink ApiServer (or any ASGI app) under uvicorn.")
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes")
@click.option("--reload", is_flag=True, help="restart when the code changes (development)")
@click.option("--max-body-size", type=click.IntRange(min=1), default=None, help="bytes; larger bodies get a 413")
@click.option("--max-upload-size", type=click.IntRange(min=1), default=None,
              help="bytes of a streamed upload's whole body; more gets a 413")
@click.option("--upload-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="seconds a streamed upload may take in all; later gets a 408")
@click.option("--upload-idle-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="seconds a streamed upload may send nothing; longer gets a 408")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="a line per request on standard output (credentials redacted)")
@click.option("--loop", type=click.Choice(list(LOOPS)), default="auto", show_default=True,
              help="auto: uvloop taking every waiting connection at once (docs/cli.md)")
@click.pass_context
def serve(ctx: click.Context, target: str, host: str, port: int, workers: int, reload: bool, max_body_size: int | None,
          max_upload_size: int | None, upload_timeout: float | None, upload_idle_timeout: float | None,
          access_log: bool, loop: str) -> None:
    """Serve an interlink ApiServer, e.g. ``interlink serve mysite.api:api``."""
    import uvicorn

    from interlink.server import ApiServer

    database_url = getattr(ctx.obj, "database_url", None)
    if database_url:
        # Workers and reloads import the target afresh: the environment reaches them all.
        os.environ[DATABASE_URL_ENV] = database_url
    app = load_target(target)
    limits: dict[str, float | None] = {"max_body_size": max_body_size, "max_upload_size": max_upload_size,
                                       "upload_timeout": upload_timeout, "upload_idle_timeout": upload_idle_timeout}
    given = [name for name, value in limits.items() if value is not None]
    if not isinstance(app, ApiServer) and given:
        flag = "--" + given[0].replace("_", "-")
        raise click.UsageError(f"{flag} applies to an interlink ApiServer only")
    _configure(app, limits, database_url)
    _check_ready(app)
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from 127.0.0.1 as the
    # client address; ApiServer(trusted_proxies=...) decides that instead (docs/security.md).
    # access_log=False: uvicorn's access log costs a log record per request; interlink's
    # AccessLog (server/_access_log.py) writes the same line, batched.
    if workers > 1 or reload:
        os.environ[TARGET_ENV] = target
        os.environ[ACCESS_LOG_ENV] = "1" if access_log else ""
        for name, value in limits.items():
            os.environ[LIMIT_ENVS[name]] = "" if value is None else str(value)
        uvicorn.run("interlink.cli._serve:worker_app", factory=True, host=host, port=port, workers=workers,
                    reload=reload, log_level="info", proxy_headers=False, access_log=False, loop=LOOPS[loop],
                    http=_http_protocol(uvicorn.__version__))
    else:
        from interlink.server import AccessLog

        uvicorn.run(AccessLog(app) if access_log else app, host=host, port=port, log_level="info",
                    proxy_headers=False, access_log=False, loop=LOOPS[loop], http=_http_protocol(uvicorn.__version__))


def _check_ready(app: Any) -> None:
    """What would stop an ApiServer at startup, said in one line before uvicorn starts: its
    database URL (a server may make a new database), and callbacks without a usable
    ``INTERLINK_SECRET_KEY``; a method declaring callbacks that nothing delivers."""
    from interlink.server import ApiServer, Pipeline

    if not isinstance(app, ApiServer):
        return
    try:
        Pipeline(app).check()
    except TypeError as error:
        raise CliError(str(error)) from None
    if isinstance(app.database, str) or (app.database is None and app.authenticator is None):
        check_database_url(app.database, create=True)
    if "interlink.callbacks" in sys.modules:  # loaded when the site attached Callbacks(api)
        from interlink.callbacks import Callbacks
        from interlink.store import SecretKeyMissing

        try:
            Callbacks.of(app).check_ready()
        except LookupError:
            pass
        except SecretKeyMissing as error:
            raise CliError(f"this server delivers callbacks: {error}") from None


TARGET_ENV = "INTERLINK_SERVE_TARGET"
ACCESS_LOG_ENV = "INTERLINK_SERVE_ACCESS_LOG"
#: each limit's ApiServer attribute and the variable that carries it to worker processes
LIMIT_ENVS = {
    "max_body_size": "INTERLINK_SERVE_MAX_BODY_SIZE",
    "max_upload_size": "INTERLINK_SERVE_MAX_UPLOAD_SIZE",
    "upload_timeout": "INTERLINK_SERVE_UPLOAD_TIMEOUT",
    "upload_idle_timeout": "INTERLINK_SERVE_UPLOAD_IDLE_TIMEOUT",
}
_SIZES = {"max_body_size", "max_upload_size"}  # bytes: whole numbers; the timeouts are seconds


def _configure(app: Any, limits: dict[str, float | None] | None, database_url: str | None) -> None:
    """The command line's settings on an ApiServer, in the serving process and in each worker."""
    from interlink.server import ApiServer

    if not isinstance(app, ApiServer):
        return
    telemetry_from_environment(app)  # OTEL_* set: spans per call (docs/observability.md)
    for name, value in (limits or {}).items():
        if value is not None:
            setattr(app, name, value)  # sizes already whole numbers (IntRange, worker_app)
    if database_url and app.database is None and app.authenticator is None:
        app.database = database_url


def worker_app() -> Any:
    """The app of each uvicorn worker process (and of each reload): the target, behind the access log."""
    from interlink.server import AccessLog

    app = load_target(os.environ[TARGET_ENV])
    limits: dict[str, float | None] = {}
    for name, variable in LIMIT_ENVS.items():
        text = os.environ.get(variable)
        limits[name] = (int(text) if name in _SIZES else float(text)) if text else None
    _configure(app, limits, os.environ.get(DATABASE_URL_ENV))
    return AccessLog(app) if os.environ.get(ACCESS_LOG_ENV) else app
