"""How a long scan of a sample folder shows it is alive: a bar on a terminal; otherwise a line every ``EVERY``
folders or files, and at least every ``QUIET_S`` seconds while it goes on (a pack of large files is slow too)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bergain_actors.music.pack import Progress as Told

EVERY = 200
"""Folders walked, or files decoded, between two lines when stderr is no terminal (a log or a pipe keeps them)."""
QUIET_S = 10.0
"""The longest a scan stays silent when stderr is no terminal."""


@contextmanager
def scan_progress(console: Console, folder: str) -> Iterator[Told]:
    """``index_pack``'s ``progress`` for a scan of ``folder``; the bar is gone once the scan is over."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=console, transient=True, disable=not console.is_terminal)
    task = bar.add_task(f"scanning {folder}", total=None)
    said = time.monotonic()

    def told(stage: str, done: int, total: int) -> None:
        nonlocal said
        if stage == "folders":
            line = f"scanning {folder}: {done} folders, {total} audio files so far"
            bar.update(task, description=line)
        else:
            line = f"decoded {done} of {total} audio files"
            bar.update(task, description="decoding", completed=done, total=total)
        if not console.is_terminal and done and (done % EVERY == 0 or time.monotonic() - said >= QUIET_S):
            console.print(f"samples: {line}", highlight=False, markup=False)
            said = time.monotonic()

    with bar:
        yield told
