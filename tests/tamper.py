"""A reusable tamper harness: ways to forge a logged set, each re-framed with valid record checksums (so only what
the records say lies, never their framing), for ``tests/test_tamper.py`` and any test of a new event type.

A ``Tamper`` is a name, a change to the events (and optionally the header) and what ``replay --verify`` must
answer: its exit code and a fragment of its one-line reason. Build new cases from the helpers: ``edit`` a field
of the n-th event of a type, ``delete`` it, ``duplicate`` it, ``swap`` two events, ``cut`` the tail, ``insert``
a forged event, ``header`` edits."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from bergain_actors.core import events as ev
from bergain_actors.core.log import LogHeader, LogWriter, read_all

Events = list[ev.Event]
Change = Callable[[Events], Events]


class Tamper(msgspec.Struct, frozen=True, kw_only=True):
    """One forgery of a log and the verdict it must get."""

    name: str
    change: Change = lambda events: events
    header: Callable[[LogHeader], LogHeader] | None = None
    exit: int
    says: str
    """A fragment of what replay prints (stdout or stderr) saying why."""
    log: str = "autopilot"
    """Which set it forges (``autopilot``, ``phrase-scripted``: see ``tests/test_tamper.py``)."""


def forge(src: Path, dst: Path, tamper: Tamper) -> Path:
    """A copy of ``src`` with ``tamper`` applied, every record framed afresh with a valid checksum."""
    header, events, _ = read_all(src)
    if header.base_dir:  # the scenario's folder, as seen from the forged log's folder
        where = os.path.relpath((src.parent / header.base_dir).resolve(), dst.parent.resolve())
        header = msgspec.structs.replace(header, base_dir=where)
    if tamper.header is not None:
        header = tamper.header(header)
    writer = LogWriter.create(dst, header, "never")
    for event in tamper.change(events):
        writer.append(event)
    writer.close()
    return dst


def index(events: Events, kind: type[ev.Event], nth: int = 0, where: Callable[[Any], bool] = lambda e: True) -> int:
    """The position of the ``nth`` event of ``kind`` matching ``where`` (negative ``nth`` counts from the end)."""
    found = [i for i, e in enumerate(events) if isinstance(e, kind) and where(e)]
    return found[nth]


def edit(
    event_type: type[ev.Event], nth: int = 0, where: Callable[[Any], bool] = lambda e: True, **fields: Any
) -> Change:
    """Change ``fields`` of one event (its seq kept: nothing but the content lies)."""

    def change(events: Events) -> Events:
        i = index(events, event_type, nth, where)
        return [*events[:i], msgspec.structs.replace(events[i], **fields), *events[i + 1 :]]

    return change


def delete(kind: type[ev.Event], nth: int = 0, renumber: bool = False) -> Change:
    """Drop one event; with ``renumber`` the later seqs close the gap (a deletion that hides itself)."""

    def change(events: Events) -> Events:
        i = index(events, kind, nth)
        rest = events[i + 1 :]
        if renumber:
            rest = [msgspec.structs.replace(e, seq=e.seq - 1) for e in rest]
        return [*events[:i], *rest]

    return change


def duplicate(kind: type[ev.Event], nth: int = 0) -> Change:
    """Log one event twice in a row (same seq)."""

    def change(events: Events) -> Events:
        i = index(events, kind, nth)
        return [*events[: i + 1], events[i], *events[i + 1 :]]

    return change


def swap(kind: type[ev.Event], nth: int = 0, renumber: bool = True) -> Change:
    """Swap one event with the one after it; with ``renumber`` each keeps the seq of its new place."""

    def change(events: Events) -> Events:
        i = index(events, kind, nth)
        a, b = events[i], events[i + 1]
        if renumber:
            a, b = msgspec.structs.replace(a, seq=b.seq), msgspec.structs.replace(b, seq=a.seq)
        return [*events[:i], b, a, *events[i + 2 :]]

    return change


def cut(keep: float) -> Change:
    """Keep the first ``keep`` share of the events (a set killed: no SetEnded)."""
    return lambda events: events[: int(len(events) * keep)]


def insert(before: type[ev.Event], forged: ev.Event, nth: int = 0) -> Change:
    """Put ``forged`` before the ``nth`` event of ``before``, taking its seq; the later seqs move up by one."""

    def change(events: Events) -> Events:
        i = index(events, before, nth)
        later = [msgspec.structs.replace(e, seq=e.seq + 1) for e in events[i:]]
        return [*events[:i], msgspec.structs.replace(forged, seq=events[i].seq), *later]

    return change


def both(*changes: Change) -> Change:
    def change(events: Events) -> Events:
        for one in changes:
            events = one(events)
        return events

    return change


def header(**fields: Any) -> Callable[[LogHeader], LogHeader]:
    """Change header fields, each to a value or by a function of the logged value."""

    def change(logged: LogHeader) -> LogHeader:
        new = {k: v(getattr(logged, k)) if callable(v) else v for k, v in fields.items()}
        return msgspec.structs.replace(logged, **new)

    return change
