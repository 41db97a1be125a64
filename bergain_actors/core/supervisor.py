"""The supervisor: starts actors by slot, restarts them one-for-one, falls back, swaps.

A crash is an event, a restart is an event, a fallback is an event. An actor that raises is replaced by a fresh
instance of its kind, which is told where the set is (``resume``) and handed the event it choked on again, so a
one-off bug costs nothing audible. More than ``max_restarts`` crashes within ``restart_window_bars`` bars and the
slot gets its safe fallback kind (the conductor's last resort holds the groove) and the set goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import trio

from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext, SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.fatal import fatal_in

OUTRO_BARS = 8
"""The shortest outro ``stop`` plays before the phrase line it ends on."""


class Supervisor:
    def __init__(self, bus: Bus, set_ctx: SetContext, slots: Iterable[str]) -> None:
        self.bus = bus
        self.set = set_ctx
        self.slots = tuple(slots)
        self.kinds: dict[str, str] = {}
        self.actors: dict[str, Actor] = {}
        self.crash_bars: dict[str, list[int]] = {}
        self._nursery: trio.Nursery | None = None
        self._scopes: dict[str, trio.CancelScope] = {}
        self.done = trio.Event()
        self.bars_played = 0
        self.pending_swaps: list[ev.Control] = []
        self.end_reason = "complete"
        self.set_slots = self.slots
        """Every slot the set fills (replay's supervisor builds only the deciding ones but judges commands alike)."""
        self.end_bar = set_ctx.total_bars
        """The set ends before this bar: its length, or the end of the outro a ``stop`` planned."""
        self.failure = ""
        """Why the set could not go on (a full disk), for the user; empty when it could."""
        bus.on_crash = self._inline_crash
        bus.on_overload = self._restart_observer
        bus.on_log_failure = lambda exc: self.fail(f"cannot write the log: {exc.strerror or exc}")
        bus.taps.append(self._watch)
        bus.attach("supervisor", _Commands(self), registry.SLOT_ORDER)

    # --- starting -------------------------------------------------------------------------------------------------

    def config(self, slot: str) -> Any:
        return getattr(self.set.scenario, slot)

    def create_all(self) -> None:
        """Build every slot's actor (raises LookupError for an unknown kind, before anything plays)."""
        for slot in self.slots:
            kind = self.config(slot).kind
            self.actors[slot] = self._build(slot, kind)
            self.kinds[slot] = kind

    def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        for slot in self.slots:
            self._activate(slot, self.actors[slot])
            self.bus.publish(ev.ActorStarted(slot=slot, kind=self.kinds[slot]), source="supervisor")

    def _build(self, slot: str, kind: str) -> Actor:
        ctx = ActorContext(slot, self.bus, self.set)
        return registry.factory(slot, kind)(ctx, self.config(slot))

    def _activate(self, slot: str, actor: Actor) -> None:
        self.actors[slot] = actor
        inbox = None
        if actor.inline:
            self.bus.attach(slot, actor, registry.SLOT_ORDER)
        else:
            inbox = self.bus.observe(slot, actor.subscribes, self.set.scenario.supervisor.inbox)
        if self._nursery is not None and (not actor.inline or type(actor).run is not Actor.run):
            self._nursery.start_soon(self._run_task, slot, actor, inbox)

    async def _run_task(self, slot: str, actor: Actor, inbox: trio.MemoryReceiveChannel[ev.Event] | None) -> None:
        with trio.CancelScope() as scope:
            self._scopes[slot] = scope
            try:
                async with trio.open_nursery() as nursery:
                    actor.ctx.open(nursery)
                    await actor.run(inbox)
            except Exception as exc:
                fatal = fatal_in(exc)
                if fatal is not None:
                    self.fail(str(fatal))
                elif self.actors.get(slot) is actor:
                    self._crashed(slot, actor, exc, redeliver=None)

    # --- failing --------------------------------------------------------------------------------------------------

    def _inline_crash(self, slot: str, actor: Actor, event: ev.Event, exc: Exception) -> None:
        fatal = fatal_in(exc)
        if fatal is not None:
            self.fail(str(fatal))
        else:
            self._crashed(slot, actor, exc, redeliver=event)

    def fail(self, reason: str) -> None:
        """The world cannot take the set any further (a full disk): no restart can help, so end the set now, as
        cleanly as a ``stop``; the first reason is the one reported."""
        self.failure = self.failure or reason
        self.end_reason = "error"
        self.done.set()

    def _crashed(self, slot: str, actor: Actor, exc: Exception, redeliver: ev.Event | None) -> None:
        kind = self.kinds[slot]
        bar = self._bar()
        self.bus.publish(ev.ActorCrashed(slot=slot, kind=kind, error=_describe(exc), bar=bar), source="supervisor")
        window = self.set.scenario.supervisor.restart_window_bars
        recent = [b for b in self.crash_bars.get(slot, []) if b > bar - window] + [bar]
        self.crash_bars[slot] = recent
        self._stop(slot, actor)
        if len(recent) <= self.set.scenario.supervisor.max_restarts:
            new = self._build(slot, kind)
            new.resume(self.bus.last)
            self._activate(slot, new)
            self.bus.publish(ev.ActorRestarted(slot=slot, kind=kind, attempt=len(recent), bar=bar), source="supervisor")
        else:
            safe = registry.fallback_kind(slot, kind)
            if safe is None or safe == kind:
                self.bus.detach(slot)
                self.actors.pop(slot, None)
                self.bus.publish(
                    ev.ActorFellBack(slot=slot, old=kind, new="none", reason="restart limit; no safer kind", bar=bar),
                    source="supervisor",
                )
                return
            new = self._build(slot, safe)
            new.resume(self.bus.last)
            self.kinds[slot] = safe
            self.crash_bars[slot] = []
            self._activate(slot, new)
            reason = f"{len(recent)} crashes within {window} bars"
            self.bus.publish(
                ev.ActorFellBack(slot=slot, old=kind, new=safe, reason=reason, bar=bar), source="supervisor"
            )
        if redeliver is not None and new.inline and isinstance(redeliver, new.subscribes):
            try:
                new.handle(redeliver)
            except Exception as again:
                self._crashed(slot, new, again, redeliver)

    def _restart_observer(self, slot: str) -> None:
        actor = self.actors.get(slot)
        if actor is None:
            return
        self._stop(slot, actor)
        new = self._build(slot, self.kinds[slot])
        new.resume(self.bus.last)
        self._activate(slot, new)
        self.bus.publish(ev.ActorRestarted(slot=slot, kind=self.kinds[slot], attempt=0), source="supervisor")

    def _stop(self, slot: str, actor: Actor) -> None:
        scope = self._scopes.pop(slot, None)
        if scope is not None:
            scope.cancel()
        if actor.inline:
            self.bus.detach(slot)
        else:
            self.bus.unobserve(slot)
        with contextlib.suppress(Exception):  # a broken actor's cleanup must not take the set down with it
            actor.close()

    # --- commands from outside ------------------------------------------------------------------------------------

    def command(self, event: ev.Control) -> None:
        """A control command, already logged: a swap is checked now and waits for the next bar line; ``stop now``
        ends the set at the next bar line, ``stop`` plans an outro to a phrase line. Anything that cannot be done
        is a ``CommandRejected``, never a crash."""
        if event.command == "swap":
            problem = self.swap_problem(str(event.args.get("slot", "")), str(event.args.get("kind", "")))
            if problem:
                self.reject(event, problem)
            else:
                self.pending_swaps.append(event)
        elif event.command == "stop":
            self.plan_stop(event)
        else:
            self.reject(event, f"unknown command {event.command!r}")

    def swap_problem(self, slot: str, kind: str) -> str:
        if slot == "supervisor" or slot not in self.set_slots:
            return f"no slot {slot!r} in this set (slots: {', '.join(s for s in self.set_slots)})"
        if slot == "streamer":
            return "the streamer cannot be swapped mid-set (it owns the audio device)"
        try:
            registry.factory(slot, kind)
        except LookupError:  # the kinds known are not named here: the log must not depend on what is registered
            return f"{slot}.kind: unknown kind {kind!r}"
        if kind in registry.ASKS_AN_LM.get(slot, ()) and "router" not in self.set_slots:
            return f"{slot} {kind} asks an LM, and this set has no LM router (add [router] providers to the scenario)"
        return ""

    def plan_stop(self, event: ev.Control) -> None:
        """``stop now``: end after the bar playing now. ``stop``: wind down over at least ``bars`` bars (default
        ``OUTRO_BARS``) from the first bar not yet planned, and end on the phrase line after that."""
        if event.args.get("now"):
            start = end = min(self.bars_played + 1, self.end_bar)
        else:
            phrase = max(1, int(getattr(self.config("conductor"), "phrase_bars", 16)))
            start = self.bars_played + self.set.scenario.lookahead_bars
            bars = int(event.args.get("bars", OUTRO_BARS))
            end = min(-(-(start + bars) // phrase) * phrase, self.set.total_bars)
            if end >= self.end_bar:
                self.reject(event, f"already ending at bar {self.end_bar} ('stop now' cuts at the next bar line)")
                return
        self.end_bar = end
        self.end_reason = "stopped"
        stop = ev.StopPlanned(from_bar=min(start, end), end_bar=end, bar=self._bar(), cause=event.seq)
        self.bus.publish(stop, source="supervisor")

    def providers(self, event: ev.ProviderControl) -> None:
        if "router" not in self.set_slots:
            self.reject(event, "this set has no LM router (add [router] providers to the scenario)")

    def reject(self, event: ev.Control | ev.ProviderControl, reason: str) -> None:
        text = event.command if isinstance(event, ev.Control) else f"provider {event.op}"
        self.bus.publish(
            ev.CommandRejected(command=text, reason=reason, bar=self._bar(), cause=event.seq), source="supervisor"
        )

    def bar_line(self) -> None:
        swaps, self.pending_swaps = self.pending_swaps, []
        for control in swaps:
            slot, kind = str(control.args.get("slot", "")), str(control.args.get("kind", ""))
            if slot not in self.actors:
                continue  # replay builds only the deciding slots; a live swap of another is a recorded input
            try:
                self.swap(slot, kind, cause=control.seq)
            except Exception as exc:  # the new kind could not even be built: the old actor plays on
                self.reject(control, f"{slot} {kind} could not start: {_describe(exc)}")

    # --- swapping -------------------------------------------------------------------------------------------------

    def swap(self, slot: str, kind: str, cause: int = -1) -> None:
        """Replace ``slot``'s actor with a fresh one of ``kind``; it picks up from the latest events."""
        old = self.actors[slot]
        new = self._build(slot, kind)
        new.resume(self.bus.last)
        self._stop(slot, old)
        previous, self.kinds[slot] = self.kinds[slot], kind
        self.crash_bars[slot] = []
        self._activate(slot, new)
        self.bus.publish(
            ev.ActorSwapped(slot=slot, old=previous, new=kind, bar=self._bar(), cause=cause), source="supervisor"
        )

    # --- the end --------------------------------------------------------------------------------------------------

    def _watch(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed):
            self.bars_played = event.bar + 1
            if event.bar + 1 >= self.end_bar:
                self.done.set()

    def _bar(self) -> int:
        return self.bars_played

    def close(self) -> None:
        for slot, actor in list(self.actors.items()):
            self._stop(slot, actor)


class _Commands(Actor):
    """The supervisor's ear on the bus: delivered first in every cascade, so a swap at a bar line happens before
    any actor hears that bar, and the new actor hears it instead of the old."""

    kind = "supervisor"
    subscribes = (ev.Control, ev.ProviderControl, ev.BarPlayed)

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.Control):
            self.supervisor.command(event)
        elif isinstance(event, ev.ProviderControl):
            self.supervisor.providers(event)
        elif self.supervisor.pending_swaps:
            self.supervisor.bar_line()


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."
