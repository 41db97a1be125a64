"""The bus: the set's only sequencer.

``publish`` gives an event the next seq, appends it to the log, and only then delivers it: to inline actors by a
synchronous call in slot order, to observers through bounded trio memory channels. Everything inline actors emit
while handling an event is queued and delivered, in seq order, before ``publish`` returns. No task switch can
happen inside that run-to-completion cascade, so the log is a function of the inputs from outside alone — trio's
deliberately shuffled scheduling never decides what comes first.

An observer whose inbox is full is not waited for: the bus drops it, publishes ``ActorOverloaded`` and lets the
supervisor restart it, so a slow critic or display can never stall the audio path.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
import trio

from bergain_actors.core import events as ev
from bergain_actors.core.log import RecordTooLarge

if TYPE_CHECKING:
    from bergain_actors.core.actor import Actor
    from bergain_actors.core.log import LogWriter

CrashHandler = Callable[[str, "Actor", ev.Event, Exception], None]
OverloadHandler = Callable[[str], None]


class Bus:
    def __init__(self, log: LogWriter | None = None, *, wall_clock: bool = True) -> None:
        self.log = log
        self.seq = 0
        self.last: dict[type[ev.Event], ev.Event] = {}
        self.taps: list[Callable[[ev.Event], None]] = []
        """Synchronous hooks on every published event (verification, tests)."""
        self.on_crash: CrashHandler | None = None
        self.on_overload: OverloadHandler | None = None
        self.on_log_failure: Callable[[OSError], None] | None = None
        """Told when the log could not be written (a full disk): the set cannot go on unrecorded."""
        self._wall = time.time if wall_clock else None
        self._inline: dict[str, Actor] = {}
        self._order: list[str] = []
        self._routes: dict[type[ev.Event], list[str]] = {}
        self._observers: dict[str, tuple[tuple[type[ev.Event], ...], trio.MemorySendChannel[ev.Event]]] = {}
        self._queue: deque[ev.Event] = deque()
        self._dispatching = False
        self._handling = ""
        """The slot whose actor's ``handle`` runs now (it is the source of what it publishes)."""
        self._commit = trio.Event()

    # --- who listens ----------------------------------------------------------------------------------------------

    def attach(self, slot: str, actor: Actor, order: tuple[str, ...]) -> None:
        """Deliver to ``actor`` inline from now on (replacing whatever held ``slot``)."""
        self._inline[slot] = actor
        self._order = [s for s in order if s in self._inline] + sorted(s for s in self._inline if s not in order)
        self._routes.clear()

    def detach(self, slot: str) -> None:
        self._inline.pop(slot, None)
        self._order = [s for s in self._order if s != slot]
        self._routes.clear()

    def observe(
        self, slot: str, types: tuple[type[ev.Event], ...], capacity: int
    ) -> trio.MemoryReceiveChannel[ev.Event]:
        """A bounded inbox for an observer: the events of ``types`` from now on."""
        send, receive = trio.open_memory_channel[ev.Event](capacity)
        old = self._observers.pop(slot, None)
        if old is not None:
            old[1].close()
        self._observers[slot] = (types, send)
        return receive

    def unobserve(self, slot: str) -> None:
        old = self._observers.pop(slot, None)
        if old is not None:
            old[1].close()

    # --- publishing -----------------------------------------------------------------------------------------------

    def publish(self, event: ev.Event, source: str | None = None) -> ev.Event:
        """Sequence, log, then deliver ``event`` (and everything it causes). Returns it stamped. An event holding
        NaN or an infinity raises ValueError and is neither logged nor delivered (it could never replay).

        Every event has a source: the one given, else its own, else the slot whose actor is handling an event
        right now (a deciding actor that published without naming itself). One from nowhere (a task publishing
        without a source) raises ValueError: replay would take it for an input from outside."""
        bad = ev.non_finite(event)
        if bad:
            raise ValueError(f"{type(event).__name__}.{bad} is not a finite number; events carry finite numbers only")
        source = source or event.source or self._handling
        if not source:
            raise ValueError(f"{type(event).__name__} published without a source; publish it as its actor's slot")
        self.seq += 1
        if not event.source:
            event = msgspec.structs.replace(event, seq=self.seq, source=source)
        else:
            event = msgspec.structs.replace(event, seq=self.seq)
        if self._wall is not None and not event.wall:
            event = msgspec.structs.replace(event, wall=round(self._wall(), 6))
        if self.log is not None:
            try:
                self.log.append(event)
            except RecordTooLarge:
                self.seq -= 1  # never logged, never delivered: the next event takes this seq, the log has no gap
                raise
            if self.log.commit_due(event):
                self.request_commit()
        self.last[type(event)] = event
        for tap in self.taps:
            tap(event)
        self._queue.append(event)
        if not self._dispatching:
            self._dispatching = True
            try:
                while self._queue:
                    self._deliver(self._queue.popleft())
            finally:
                self._queue.clear()
                self._dispatching = False
        return event

    def _deliver(self, event: ev.Event) -> None:
        kind = type(event)
        route = self._routes.get(kind)
        if route is None:
            route = self._routes[kind] = [s for s in self._order if isinstance(event, self._inline[s].subscribes)]
        for slot in route:
            actor = self._inline.get(slot)
            if actor is None:
                continue
            self._handling = slot
            try:
                actor.handle(event)
            except Exception as exc:  # an actor's bug must not stop the set: the supervisor decides
                if self.on_crash is None:
                    raise
                self.on_crash(slot, actor, event, exc)
            finally:
                self._handling = ""
        for slot, (types, inbox) in list(self._observers.items()):
            if not isinstance(event, types):
                continue
            try:
                inbox.send_nowait(event)
            except trio.WouldBlock:
                self.unobserve(slot)
                overloaded = ev.ActorOverloaded(slot=slot, capacity=inbox.statistics().max_buffer_size)
                self.publish(overloaded, source="supervisor")
                if self.on_overload is not None:
                    self.on_overload(slot)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                self.unobserve(slot)

    # --- durability -----------------------------------------------------------------------------------------------

    def write_through(self) -> None:
        """Hand what is logged so far to the OS now (no fsync): it survives this process being killed. Whatever
        is derived from the log (the WAV) is written after it."""
        if self.log is not None:
            self.log.write_through()

    def request_commit(self) -> None:
        """Make what is logged so far durable soon (the committer coalesces requests that pile up)."""
        self._commit.set()

    async def committer(self) -> None:
        """Group commit: fsync in a worker thread whenever a bar ends or a precious event is logged, so appends
        (and the audio path behind them) never wait for the disk."""
        if self.log is None:
            return
        while True:
            await self._commit.wait()
            self._commit = trio.Event()
            fd = self.log.flush()
            if fd is not None:
                await trio.to_thread.run_sync(self.log.sync, fd)
            if self.log.failure is not None and self.on_log_failure is not None:
                self.on_log_failure(self.log.failure)
