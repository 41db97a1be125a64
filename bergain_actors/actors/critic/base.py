"""What every Critic shares: it keeps the bars that sounded (the plans, holds included, and what their audio
measured), judges them every ``every_bars`` bars and sends each finding as a ``Directive`` naming a measurable
target. At the first judgement whose window the Conductor can have answered in (it answers at its next phrase)
it says whether that target moved (``DirectiveMoved``): "acted on" is measured, not claimed. A critic decides
from events alone (``BarPlanned``, ``BarPlayed`` and its ``heard`` figures, LM answers), so it replays exactly
and can be swapped mid-set: a new one starts judging from the next bars it hears.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.music.critique import Finding, PlayedBar, measures, moved
from bergain_actors.music.plan import BarPlan


class Critic(Actor):
    kind = "critic"
    subscribes: ClassVar[tuple[type[ev.Event], ...]] = (ev.BarPlanned, ev.BarPlayed)

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        self.every = config.every_bars
        self.phrase_bars = ctx.scenario.conductor.phrase_bars
        self.repetition_bars = max(config.window_bars, 2 * self.phrase_bars)
        self.plans: dict[int, BarPlan] = {}
        self.played: deque[PlayedBar] = deque(maxlen=max(self.repetition_bars, self.every))
        self.pending: list[ev.Directive] = []
        """Directives sent at the last judgement, to check against the next one."""

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlanned):
            self.plans[event.seq] = event.plan
        elif isinstance(event, ev.BarPlayed):
            plan = self.plans.get(event.plan_seq)
            if plan is None:
                return
            for old in [s for s in self.plans if s < event.plan_seq]:  # only holds of this plan can come back
                del self.plans[old]
            self.played.append(
                PlayedBar(event.bar, plan, event.held, event.rms, event.peak, event.gain_reduction_db, event.heard)
            )
            self.heard(event)
            if (event.bar + 1) % self.every == 0:
                self.judge(event)

    @property
    def voice(self) -> str:
        """Who speaks in this critic's directives (``data["by"]``)."""
        return self.kind

    def heard(self, event: ev.BarPlayed) -> None:
        """One more bar sounded (after it joined ``played``)."""

    def judge(self, event: ev.BarPlayed) -> None:
        recent = list(self.played)[-self.every :]
        now = measures(recent)
        due = [d for d in self.pending if event.bar - self.every + 1 >= self.answerable(d.bar)]
        self.pending = [d for d in self.pending if d not in due]
        for directive in due:
            result = moved(directive.data, now)
            if result is not None:
                went, after = result
                self.ctx.emit(
                    ev.DirectiveMoved(
                        directive=directive.kind,
                        measure=str(directive.data["measure"]),
                        before=float(directive.data["value"]),
                        after=after,
                        target=float(directive.data["target"]),
                        moved=went,
                        bar=event.bar,
                        cause=directive.seq,
                    )
                )
        for finding in self.findings(event):
            directive = self.ctx.emit(
                ev.Directive(
                    kind=finding.kind,
                    text=finding.text,
                    severity=finding.severity,
                    data={**finding.data, "by": self.voice},
                    bar=event.bar,
                    cause=event.seq,
                )
            )
            assert isinstance(directive, ev.Directive)
            self.pending.append(directive)

    def findings(self, event: ev.BarPlayed) -> list[Finding]:
        """What this critic finds in the bars just played."""
        return []

    def answerable(self, bar: int) -> int:
        """The first bar a directive sent at ``bar`` can have changed: the Conductor answers at the next phrase it
        plans (it plans ``lookahead`` bars ahead), so its target is judged on a window that starts there."""
        planned = bar + self.ctx.scenario.lookahead_bars
        return (planned // self.phrase_bars + 1) * self.phrase_bars
