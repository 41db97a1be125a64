"""The Conductor's mechanics, shared by every brain: it owns the mixer, keeps ``lookahead`` bars planned ahead of
the streamer, walks the arc, hears the Critic, and turns every move into an event.

Pacing: bars 0..lookahead-1 are planned when the set starts; each ``BarPlayed(k)`` asks for bar k+lookahead. A
brain decides at phrase boundaries (``on_phrase``); between them the mixer simply plays on.
"""

from __future__ import annotations

from typing import Any

from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.music import arc
from bergain_actors.music.mixer import Mixer, menu_from_pack

BREAKDOWN_KEEP = frozenset({"texture", "synth", "hihat", "fx", "ride"})
"""What a breakdown leaves playing: the kick and the low end drop out."""


class Conductor(Actor):
    kind = "conductor"
    subscribes = (ev.SetStarted, ev.BarPlayed, ev.Directive)

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        scenario = ctx.scenario
        self.total = ctx.set.total_bars
        self.bpm = scenario.bpm
        self.lookahead = scenario.lookahead_bars
        self.phrase_bars = config.phrase_bars
        self.mixer = Mixer(menu_from_pack(ctx.set.pack) if ctx.set.pack is not None else {}, scenario.beats_per_bar)
        self.next_bar = 0
        self.phase = ""
        self.target = 0.0
        self.cap = 3
        self.directives: list[ev.Directive] = []
        self.restore_at = -1
        self.restore: list[str] = []

    # --- events ---------------------------------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.SetStarted):
            self.plan_through(self.lookahead - 1)
        elif isinstance(event, ev.BarPlayed):
            self.plan_through(event.bar + self.lookahead)
        elif isinstance(event, ev.Directive):
            self.directives.append(event)

    def resume(self, last: dict[type[ev.Event], ev.Event]) -> None:
        planned = last.get(ev.BarPlanned)
        if isinstance(planned, ev.BarPlanned):
            self.mixer = Mixer.from_plan(planned.plan, self.mixer.menu)
            self.next_bar = planned.plan.bar + 1
            self.phase, self.target, self.cap = arc.phase_at(planned.plan.bar, self.total)
        played = last.get(ev.BarPlayed)
        if isinstance(played, ev.BarPlayed):
            self.next_bar = max(self.next_bar, played.bar + 1)

    # --- planning -------------------------------------------------------------------------------------------------

    def ready(self, bar: int) -> bool:
        """Whether bar ``bar`` may be planned now (an LM brain in fast mode waits for its decision)."""
        return True

    def plan_through(self, bar: int) -> None:
        while self.next_bar <= min(bar, self.total - 1) and self.ready(self.next_bar):
            self.plan_bar(self.next_bar)
            self.next_bar += 1

    def plan_bar(self, bar: int) -> None:
        phase, self.target, self.cap = arc.phase_at(bar, self.total)
        new_phase = phase != self.phase
        if new_phase:
            self.phase = phase
            self.ctx.emit(ev.PhaseChanged(phase=phase, target_energy=self.target, bar=bar))
        if bar == self.restore_at:
            for role in self.restore:
                self.move("unmute", role, bar)
            self.restore_at, self.restore = -1, []
        if new_phase or bar % self.phrase_bars == 0:
            self.on_phrase(bar, new_phase)
        self.ctx.emit(ev.BarPlanned(plan=self.mixer.plan(bar, self.bpm, self.phase), bar=bar))

    def on_phrase(self, bar: int, new_phase: bool) -> None:
        """A brain's decision point: the first bar of a phrase (or of a new phase)."""

    # --- moves ----------------------------------------------------------------------------------------------------

    def move(self, name: str, role: str, bar: int, /, cause: int = -1, **args: Any) -> str:
        """Apply one move to the mixer through the guardrails and log it. Returns the guardrails' verdict."""
        mixer = self.mixer
        if name == "add":
            rand = self.ctx.rng(bar, f"add:{role}")
            result = mixer.add(role, bar, self.cap, args.get("gain", 0.6), args.get("pattern", ""), rand)
        elif name == "remove":
            result = mixer.remove(role)
        elif name == "fader":
            result = mixer.fader(role, args["gain"])
        elif name == "pattern":
            result = mixer.pattern(role, args["name"])
        elif name in ("mute", "unmute"):
            result = mixer.mute(role, name == "mute")
        elif name == "swap":
            result = mixer.swap(role, bar, args.get("choice"), self.ctx.rng(bar, f"swap:{role}"))
        elif name == "breakdown":
            result = self.breakdown(bar, int(args.get("bars", 4)))
        else:
            result = f"refused: unknown move {name!r}"
        self.ctx.emit(ev.MixerMove(move=name, role=role, args=args, result=result, bar=bar, cause=cause))
        return result

    def breakdown(self, bar: int, bars: int) -> str:
        """Mute everything but the breakdown layers for ``bars`` bars, then bring them back."""
        drop = [c.role for c in self.mixer.audible() if c.role not in BREAKDOWN_KEEP]
        if not drop:
            return "refused: nothing to drop"
        if len(drop) == len(self.mixer.audible()):
            return f"refused: nothing would keep playing (a breakdown keeps {', '.join(sorted(BREAKDOWN_KEEP))})"
        for role in drop:
            self.mixer.mute(role)
        self.restore_at, self.restore = bar + max(1, bars), drop
        return f"ok: dropped {', '.join(drop)} until bar {self.restore_at}"

    def acted(self, directive: ev.Directive, action: str, bar: int) -> None:
        self.ctx.emit(ev.DirectiveActed(directive=directive.kind, action=action, bar=bar, cause=directive.seq))
