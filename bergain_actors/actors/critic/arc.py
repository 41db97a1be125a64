"""``arc``: the rule-based Critic. Every ``every_bars`` bars it judges the bars just played (the plans that
actually sounded, holds included, and their measured audio) and sends directives to the Conductor."""

from __future__ import annotations

from collections import deque
from typing import Any

from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.music.critique import PlayedBar, critique
from bergain_actors.music.plan import BarPlan


class ArcCritic(Actor):
    kind = "arc"
    subscribes = (ev.BarPlanned, ev.BarPlayed)

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        self.every = config.every_bars
        self.repetition_bars = max(config.window_bars, 2 * ctx.scenario.conductor.phrase_bars)
        self.plans: dict[int, BarPlan] = {}
        self.played: deque[PlayedBar] = deque(maxlen=max(self.repetition_bars, self.every))
        self.stagnant_streak = 0

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlanned):
            self.plans[event.seq] = event.plan
        elif isinstance(event, ev.BarPlayed):
            plan = self.plans.get(event.plan_seq)
            if plan is None:
                return
            self._forget_before(event.plan_seq)
            self.played.append(PlayedBar(event.bar, plan, event.held, event.rms, event.peak, event.gain_reduction_db))
            if (event.bar + 1) % self.every == 0:
                self.judge(event)

    def judge(self, event: ev.BarPlayed) -> None:
        findings = critique(
            list(self.played),
            total_bars=self.ctx.set.total_bars,
            repetition_bars=self.repetition_bars,
            every_bars=self.every,
            stagnant_streak=self.stagnant_streak,
        )
        self.stagnant_streak = self.stagnant_streak + 1 if any(f.kind == "vary" for f in findings) else 0
        for finding in findings:
            self.ctx.emit(
                ev.Directive(
                    kind=finding.kind,
                    text=finding.text,
                    severity=finding.severity,
                    data=finding.data,
                    bar=event.bar,
                    cause=event.seq,
                )
            )

    def _forget_before(self, seq: int) -> None:
        """Plans older than the one just played can only matter again as holds of that one: drop them."""
        for old in [s for s in self.plans if s < seq]:
            del self.plans[old]


class SilentCritic(Actor):
    """No critique: the safe fallback, and the choice for sets that want none."""

    kind = "none"
