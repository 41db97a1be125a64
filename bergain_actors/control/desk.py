"""The desk: where every front end's commands enter a running set, and where each gets its answer.

``submit(line)`` parses a command line (``commands.parse``), publishes the event (logged first, so replays see
it), and answers from what the event's synchronous cascade produced: a rejection (from the parser, the supervisor
or the router), the outro the supervisor planned, the router's new provider list, or what will happen next and
when. Every command gets an ``Answer``; nothing typed is ever a crash. Call it from the set's trio thread (a
worker thread goes through ``trio.from_thread.run_sync``).
"""

from __future__ import annotations

import msgspec

from bergain_actors.control.commands import Help, Parsed, parse
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.bus import Bus
from bergain_actors.music.intents import lexical

LIGHTS = {"closed": "●", "half_open": "◐", "open": "○"}


class Answer(msgspec.Struct, frozen=True):
    """What a front end shows (or returns) for one command."""

    ok: bool
    text: str
    """One line for a person."""
    seq: int = 0
    """The command's event in the log (0: nothing was logged, e.g. ``help``)."""


class Desk:
    def __init__(self, bus: Bus, source: str = "control", tempo_limits: tuple[float, float] | None = None) -> None:
        self.bus = bus
        self.source = source
        self.tempo_limits = tempo_limits
        """The tempos the set may glide to (the Conductor's ``tempo_limits``): a tempo answer says where it stops."""
        self._caught: list[ev.Event] | None = None
        bus.taps.append(self._catch)

    def submit(self, line: str) -> Answer:
        """Carry out one command line, as typed in the terminal or posted to the HTTP API."""
        return self.apply(parse(line))

    def apply(self, parsed: Parsed) -> Answer:
        """Carry out an already parsed command (the OSC surface builds its events directly)."""
        if isinstance(parsed, Help):
            return Answer(True, parsed.text)
        self._caught = []
        try:
            event = self.bus.publish(parsed, source=self.source)
            caused = [e for e in self._caught if e.cause == event.seq]
        finally:
            self._caught = None
        return answer(event, caused, self.tempo_limits)

    def _catch(self, event: ev.Event) -> None:
        if self._caught is not None:
            self._caught.append(event)


def answer(event: ev.Event, caused: list[ev.Event], tempo_limits: tuple[float, float] | None = None) -> Answer:
    """The answer to ``event`` given the events it caused at once (pure: front ends and tests share it); a tempo
    outside ``tempo_limits`` is answered with the tempo the set will glide to instead."""
    seq = event.seq
    rejected = next((e for e in [event, *caused] if isinstance(e, ev.CommandRejected)), None)
    if rejected is not None:
        text = f"rejected: {rejected.command}: {rejected.reason}"
        if isinstance(event, ev.Control) and event.command == "swap" and "unknown kind" in rejected.reason:
            text += f" (known: {', '.join(sorted(registry.KINDS.get(str(event.args.get('slot')), {})))})"
        return Answer(False, text, seq)
    match event:
        case ev.Control(command="swap"):
            slot, kind = event.args.get("slot"), event.args.get("kind")
            return Answer(True, f"swap {slot} → {kind} at the next bar line", seq)
        case ev.Control(command="stop"):
            planned = next((e for e in caused if isinstance(e, ev.StopPlanned)), None)
            if planned is None:
                return Answer(True, "stopping", seq)
            if planned.from_bar == planned.end_bar:
                return Answer(True, f"stopping at the next bar line: the set ends at bar {planned.end_bar}", seq)
            bars = planned.end_bar - planned.from_bar
            return Answer(
                True,
                f"winding down: a {bars}-bar outro from bar {planned.from_bar}, the set ends at bar "
                f"{planned.end_bar} (a phrase line); 'stop now' cuts",
                seq,
            )
        case ev.Steer(intent="hold"):
            return Answer(True, "holding the groove from the next bar: no changes until 'resume'", seq)
        case ev.Steer(intent="resume"):
            return Answer(True, "resuming: the brain changes things again from the next phrase", seq)
        case ev.Steer(intent="tempo"):
            what = f"to {event.value:g} BPM" if event.absolute else f"{event.value:+g} BPM"
            if tempo_limits is not None:
                lo, hi = tempo_limits
                goal = min(hi, max(lo, event.value))
                if not event.absolute:
                    what += f" (kept within {lo:g}-{hi:g} BPM)"
                elif goal != event.value:
                    what = f"to {goal:g} BPM ({event.value:g} asked; kept within {lo:g}-{hi:g} BPM)"
            return Answer(True, f"tempo {what}: the glide starts at the next 4-bar line, 2 BPM a bar", seq)
        case ev.Steer(intent="energy"):
            what = f"to {event.value:.2f}" if event.absolute else f"{event.value:+.2f}"
            return Answer(True, f"energy target {what} at the next 4-bar line", seq)
        case ev.Steer():
            reading = lexical(event.text)
            meaning = "no intent known: it varies" if reading.top is None else f"code reads: {reading.describe()}"
            return Answer(True, f"steer {event.text!r} → the conductor at the next 4-bar line ({meaning})", seq)
        case ev.ProviderControl():
            health = next((e for e in caused if isinstance(e, ev.ProviderHealth)), None)
            if health is None:
                return Answer(True, f"provider {event.op} {event.provider}: sent to the router", seq)
            why = health.excluded.get(event.provider)
            if why is not None:
                return Answer(False, f"rejected: provider {event.op} {event.provider}: {why}", seq)
            lights = " ".join(f"{name} {LIGHTS.get(health.states.get(name, ''), '?')}" for name in health.order)
            return Answer(True, f"provider {event.op} {event.provider}: providers now {lights or 'none'}", seq)
    return Answer(True, f"{type(event).__name__} logged", seq)
