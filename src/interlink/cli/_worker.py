"""``interlink worker``: delivery workers for callbacks and webhooks, beside (or instead of) the one
``interlink serve`` runs in-process."""

from __future__ import annotations

import click

from ._common import CliError, state
from ._telemetry import telemetry_from_environment

__all__ = ["worker"]


@click.command(short_help="Deliver callbacks and webhooks from the outbox.")
@click.option("--concurrency", default=32, show_default=True, type=click.IntRange(1, 1000), help="messages in flight")
@click.option("--lease", default=60.0, show_default=True, type=click.FloatRange(1, 3600),
              help="seconds a claimed message stays this worker's (a dead worker's are retried after it)")
@click.option("--poll", "poll_interval", default=0.5, show_default=True, type=click.FloatRange(0.01, 60),
              help="seconds between looks at an empty outbox")
@click.option("--until-idle", is_flag=True, help="stop when nothing is due (scripts, cron)")
def worker(concurrency: int, lease: float, poll_interval: float, until_idle: bool) -> None:
    """Deliver due messages until interrupted. On PostgreSQL run as many as you like; on SQLite one
    delivers at a time (the others wait to take over)."""
    import asyncio
    import signal

    from interlink.callbacks import DeliveryWorker
    from interlink.store import SecretKeyMissing, check_secret_key

    try:
        check_secret_key()  # before anything is printed: the one line is the whole answer
    except SecretKeyMissing as error:
        raise CliError(str(error)) from None
    database = state().database()
    telemetry_from_environment()  # OTEL_* set: each attempt a span in the trace of the call that queued it
    delivery = DeliveryWorker(database, concurrency=concurrency, lease=lease, poll_interval=poll_interval)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await delivery.run(stop, until_idle=until_idle)

    click.echo(f"delivery worker {delivery.name} on {database!r}", err=True)
    try:
        asyncio.run(main())
    except SecretKeyMissing as error:
        raise CliError(str(error)) from None
    click.echo(f"delivered {delivery.delivered}, gave up {delivery.failed}", err=True)
