"""``interlink deliveries list|retry``: the outbox, and sending a message again."""

from __future__ import annotations

import click

from ._common import CliError, find, print_table, state, when

__all__ = ["deliveries"]


@click.group(short_help="The outbox: list deliveries, send them again.")
def deliveries() -> None:
    """Deliveries: every callback and webhook message, its state and attempts."""


@deliveries.command("list")
@click.option("--state", "state_", type=click.Choice(["pending", "delivered", "failed"]), default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def deliveries_list(state_: str | None, limit: int) -> None:
    """List the newest deliveries."""
    from interlink.callbacks import list_deliveries
    from interlink.urls import redact_url, redact_urls

    with state().database().session() as session:
        rows = [
            (m.api_id, m.message_id, m.kind, m.event, redact_url(m.url), m.state, m.attempts, when(m.next_attempt_at) if m.state == "pending" else "",
             redact_urls(m.last_error) if m.last_error else m.last_error, when(m.created_at))
            for m in list_deliveries(session, state=state_, limit=limit)
        ]
    print_table("deliveries", ["api_id", "message id", "kind", "event", "url", "state", "attempts", "next attempt (UTC)",
                               "last error", "created (UTC)"], rows)


@deliveries.command("retry")
@click.argument("api_ids", nargs=-1)
@click.option("--failed", "all_failed", is_flag=True, help="every failed delivery")
def deliveries_retry(api_ids: tuple[str, ...], all_failed: bool) -> None:
    """Send deliveries again now (same message id: receivers de-duplicate)."""
    from interlink.callbacks import find_delivery, list_deliveries, retry_delivery

    if not api_ids and not all_failed:
        raise click.UsageError("name deliveries (d-…) or pass --failed")
    with state().database().session() as session:
        messages = [find(find_delivery, session, ref) for ref in api_ids]
        if all_failed:
            messages += list_deliveries(session, state="failed", limit=100_000)
        for message in messages:
            try:
                retry_delivery(session, message)
            except ValueError as error:
                raise CliError(str(error)) from None
    click.echo(f"{len(messages)} deliveries queued again")
