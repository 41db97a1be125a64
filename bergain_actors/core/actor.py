"""What an actor is, and how slots find their actor kinds.

An actor lives in a slot (``conductor``, ``critic``, ``streamer``, ``router``, ``ableton``). The bus calls its
``handle`` synchronously, in seq order, for the event types it ``subscribes`` to: deciding actors therefore decide
deterministically from events alone. An actor that talks to the world also has ``run``, a task the supervisor
starts beside it (playback, HTTP, UDP); what that task learns from outside it publishes as events before using it.
Actors with ``inline = False`` are observers: they get a bounded inbox instead, drained by ``run``.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
import trio

from bergain_actors.core import events as ev
from bergain_actors.core.clock import Meter
from bergain_actors.core.rng import rng

if TYPE_CHECKING:
    from bergain_actors.core.bus import Bus
    from bergain_actors.core.scenario import Scenario


class SetContext:
    """What every actor may know about the set: fixed before the first bar, identical on replay."""

    def __init__(self, scenario: Scenario, *, fast: bool, total_bars: int, pack: Any = None) -> None:
        self.scenario = scenario
        self.fast = fast
        self.total_bars = total_bars
        self.meter = Meter(scenario.bpm, scenario.beats_per_bar)
        self.pack = pack
        self.sink: Any = None
        """Where the streamer plays (a ``Sink``); None plays offline."""
        self.wav: Any = None
        """The set's ``WavBehind``: owned by the set, so a restarted streamer keeps appending to the same file."""
        self.audio_detail = ""
        self.link: Any = None
        """The Ableton Link session (a ``LinkSession``) while ``[link]`` is on and the set plays live."""
        self.render_worker: Any = None
        """Offline: the ``RenderWorker`` the streamer renders in, if the set was started with one."""
        self.durable: dict[str, Any] = {}
        """State an actor keeps across its own restarts (the streamer's queue of plans), by slot."""
        self.live = True
        """False while ``replay --verify`` re-runs the deciding actors (no tasks run, nothing talks to the world)."""

    def started(self) -> ev.SetStarted:
        """The ``SetStarted`` that announces this set, built here only: a set, its reperformance into Live and
        replay (which rebuilds the context from the logged one) agree on it field by field."""
        scenario = self.scenario
        return ev.SetStarted(
            name=scenario.name,
            seed=scenario.seed,
            bpm=scenario.bpm,
            beats_per_bar=scenario.beats_per_bar,
            total_bars=self.total_bars,
            sample_rate=scenario.sample_rate,
            lookahead_bars=scenario.lookahead_bars,
            fast=self.fast,
        )


class ActorContext:
    """An actor's handle on the set: emit events, spawn I/O tasks, draw seeded dice."""

    def __init__(self, slot: str, bus: Bus, set_ctx: SetContext) -> None:
        self.slot = slot
        self.bus = bus
        self.set = set_ctx
        self.nursery: trio.Nursery | None = None
        self._early: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]] = []
        self.log = structlog.get_logger(slot)

    @property
    def scenario(self) -> Scenario:
        return self.set.scenario

    def emit(self, event: ev.Event) -> ev.Event:
        """Publish ``event`` from this slot; returns it stamped with its seq."""
        return self.bus.publish(event, source=self.slot)

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start background I/O owned by this actor (cancelled when the actor is restarted or the set ends).
        Work spawned before the actor's task has opened its nursery starts as soon as it has."""
        if self.nursery is None:
            self._early.append((fn, args))
            return
        try:
            self.nursery.start_soon(fn, *args)
        except RuntimeError:  # the nursery has closed: the set (or this actor) is ending, nothing left to do
            self.log.info("late work dropped", work=getattr(fn, "__name__", repr(fn)))

    def open(self, nursery: trio.Nursery) -> None:
        """The actor's task is running: its nursery takes the work spawned so far."""
        self.nursery = nursery
        early, self._early = self._early, []
        for fn, args in early:
            nursery.start_soon(fn, *args)

    def rng(self, bar: int, purpose: str) -> random.Random:
        return rng(self.set.scenario.seed, self.slot, bar, purpose)


class Actor:
    """Base class. Subclasses set ``kind`` and ``subscribes`` and override ``handle`` and/or ``run``."""

    kind: ClassVar[str] = ""
    subscribes: ClassVar[tuple[type[ev.Event], ...]] = ()
    inline: ClassVar[bool] = True
    deciding: ClassVar[bool] = True
    """Whether ``replay --verify`` re-runs this actor (edge actors' outputs are recorded inputs instead)."""

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        self.ctx = ctx
        self.config = config

    def handle(self, event: ev.Event) -> None:
        """React to one event. Synchronous and deterministic: no I/O, no clock, no unseeded randomness."""

    def resume(self, last: dict[type[ev.Event], ev.Event]) -> None:
        """Called on a restarted instance with the latest event of each type, to pick up where the set is."""

    async def run(self, inbox: trio.MemoryReceiveChannel[ev.Event] | None) -> None:
        """The actor's own task, if it needs one. Observers drain ``inbox`` here."""
        if inbox is not None:
            async for event in inbox:
                self.handle(event)

    def close(self) -> None:
        """Release what the actor holds (files, devices); called once at the end of the set."""


Factory = Callable[[ActorContext, Any], Actor]

KINDS: dict[str, dict[str, str | Factory]] = {
    "conductor": {
        "autopilot": "bergain_actors.actors.conductor.autopilot:Autopilot",
        "hold": "bergain_actors.actors.conductor.autopilot:HoldGroove",
        "phrase": "bergain_actors.actors.conductor.phrase:PhraseConductor",
        "rlm": "bergain_actors.actors.conductor.rlm:RLMConductor",
    },
    "critic": {
        "arc": "bergain_actors.actors.critic.arc:ArcCritic",
        "audio": "bergain_actors.actors.critic.audio:AudioCritic",
        "llm": "bergain_actors.actors.critic.llm:LLMCritic",
        "none": "bergain_actors.actors.critic.arc:SilentCritic",
    },
    "streamer": {
        "audio": "bergain_actors.actors.streamer.streamer:AudioStreamer",
    },
    "router": {"router": "bergain_actors.actors.router.actor:ProviderRouter"},
    "ableton": {"osc": "bergain_actors.actors.ableton.actor:AbletonLink"},
}

ASKS_AN_LM: dict[str, tuple[str, ...]] = {"conductor": ("rlm", "phrase"), "critic": ("llm",)}
"""Kinds that decide with an LM through the router: a set without one refuses a swap to them."""

FALLBACKS: dict[str, dict[str, str]] = {
    "conductor": {"*": "autopilot", "rlm": "phrase", "phrase": "autopilot", "autopilot": "hold", "hold": "hold"},
    "critic": {"*": "none", "none": "none"},
    "streamer": {"*": "audio"},
}
"""Safe kind a slot falls back to when its actor keeps crashing (``*``: any kind not listed)."""

SLOT_ORDER = ("supervisor", "router", "conductor", "critic", "streamer", "ableton")
"""Delivery order of one event to inline actors: fixed, so the log never depends on scheduling."""


def register(slot: str, kind: str, factory: str | Factory) -> None:
    """Make ``kind`` available in ``slot`` (a factory, or ``"module:Class"`` imported on first use)."""
    KINDS.setdefault(slot, {})[kind] = factory


def factory(slot: str, kind: str) -> Factory:
    try:
        target = KINDS[slot][kind]
    except KeyError:
        # the package's own kinds only: what a process registered at run time (tests, plugins) differs between the
        # set and its replay, and this message goes into the log (a rejected swap)
        known = ", ".join(sorted(k for k, t in KINDS.get(slot, {}).items() if isinstance(t, str))) or "none"
        raise LookupError(f"{slot}.kind: unknown kind {kind!r} (known: {known})") from None
    if isinstance(target, str):
        module, _, name = target.partition(":")
        target = getattr(importlib.import_module(module), name)
    return target


def fallback_kind(slot: str, kind: str) -> str | None:
    table = FALLBACKS.get(slot, {})
    return table.get(kind, table.get("*"))
