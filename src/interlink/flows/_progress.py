"""What a person sees: a rich progress bar during a run and a summary table after it."""

from __future__ import annotations

from typing import Any

from interlink.flows._engine import Counts

__all__ = ["RunProgress", "summary_rows", "summary_table"]

_LABELS = [("read", "read"), ("created", "created"), ("updated", "updated"), ("unchanged", "unchanged"),
           ("adopted", "adopted (unfinished create)"), ("kept_target", "kept target (conflict rule)"),
           ("conflicts", "conflicts (manual)"), ("quarantined", "quarantined"), ("deleted", "deleted at target")]


def summary_rows(counts: Counts) -> list[dict[str, Any]]:
    values = counts.as_dict()
    return [{"outcome": label, "records": values[key]} for key, label in _LABELS]


def summary_table(name: str, counts: Counts, seconds: float) -> Any:
    from rich.table import Table

    rate = counts.read / seconds if seconds > 0 else 0.0
    table = Table(title=f"sync {name}: {counts.read} records in {seconds:.1f} s ({rate:,.0f}/s)")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    for row in summary_rows(counts):
        table.add_row(row["outcome"], str(row["records"]))
    return table


class RunProgress:
    """A progress bar of records read and written, with the rate; a no-op when disabled."""

    def __init__(self, name: str, enabled: bool = True, console: Any = None) -> None:
        self.name = name
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._console = console

    def __enter__(self) -> RunProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("written {task.fields[written]}"), TextColumn("{task.fields[rate]}/s"),
                TimeElapsedColumn(), console=self._console, transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(f"sync {self.name}", total=None, written=0, rate="0")
        return self

    def update(self, counts: Counts, total: int | None) -> None:
        if self._progress is None:
            return
        task = self._progress.tasks[0]
        elapsed = task.elapsed or 0.0
        rate = f"{counts.read / elapsed:,.0f}" if elapsed > 0 else "0"
        self._progress.update(self._task, completed=counts.read, total=total if total else None,
                              written=counts.written, rate=rate)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
