"""Where the commands write files: every writer (``replay --wav`` / ``--midi``, ``clip --midi``, the set report)
goes through here, so none of them replaces anything but a regular file, and a failed write leaves nothing half
written. ``--force`` lets a regular file be overwritten; a device, a FIFO, a socket or a link never is, because
the render is renamed over the path (``/dev/full`` would become a 21 MB file)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeVar

T = TypeVar("T")


class OutputRefused(ValueError):
    """A path no writer may write to; the message is one line naming the flag, the path and why."""


def check_output(path: Path, flag: str, *, force: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse, before any work, an output that would lose something or is not a file: one of ``inputs`` (the log
    being read), a folder, a special file or a link, an existing file without ``force``, a missing folder."""
    problem = _problem(path, force, inputs)
    if problem:
        raise OutputRefused(f"{flag} {path}: {problem}")


def _problem(path: Path, force: bool, inputs: tuple[Path, ...]) -> str:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "" if path.parent.is_dir() else f"no such folder: {path.parent}"
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc})"
    if any(source.exists() and os.path.samefile(path, source) for source in inputs):
        return "that is the log being replayed; choose another path"
    if stat.S_ISDIR(mode):
        return "is a folder; give a file name"
    if not stat.S_ISREG(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file (a device, FIFO or socket)"
        return f"is {what}; only a new path or a regular file is written, even with --force"
    return "" if force else "already exists; pass --force to overwrite it"


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` to write to; renamed over ``path`` only when the block succeeds (and
    ``path`` is still a new path or a regular file), removed whatever happens."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # a link or a file left by a killed run: never written through
    try:
        yield partial
        _still_writable(path)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _still_writable(path: Path) -> None:
    problem = _problem(path, True, ())
    if problem:
        raise OutputRefused(f"{path}: {problem}")


def write_atomically(path: Path, write: Callable[[BinaryIO], T]) -> T:
    """Write through a temporary file beside ``path`` and rename it into place: a failure leaves no half file and
    an overwritten file intact."""
    with replacing(path) as partial:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as out:
            return write(out)
