"""Progress bars for long work (rich on stderr), with a rate in the unit that matters."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextmanager
def progress_task(description: str, total: int, unit: str = "items") -> Iterator[Callable[[int], None]]:
    """Show one bar; yields ``advance(n)``. Disabled when BENCH_NO_PROGRESS=1."""
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=os.environ.get("BENCH_NO_PROGRESS") == "1",
    )
    start = time.perf_counter()
    done = 0
    with progress:
        task = progress.add_task(description, total=total, rate=f"- {unit}/s")

        def advance(n: int) -> None:
            nonlocal done
            done += n
            elapsed = time.perf_counter() - start
            progress.update(task, advance=n, rate=f"{done / elapsed:,.1f} {unit}/s" if elapsed > 0 else "")

        yield advance
