"""``arc``: the rule-based Critic. Every ``every_bars`` bars it judges the bars just played (the plans that
actually sounded, holds included) against the arc and sends directives to the Conductor."""

from __future__ import annotations

from typing import Any

from bergain_actors.actors.critic.base import Critic
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.music.critique import Finding, critique


class ArcRules:
    """The arc's rules with the one thing they remember: how long the set has stood still."""

    def __init__(self, critic: Critic) -> None:
        self.critic = critic
        self.stagnant_streak = 0

    def findings(self) -> list[Finding]:
        critic = self.critic
        found = critique(
            list(critic.played),
            total_bars=critic.ctx.set.total_bars,
            repetition_bars=critic.repetition_bars,
            every_bars=critic.every,
            stagnant_streak=self.stagnant_streak,
            phrase_bars=critic.phrase_bars,
        )
        self.stagnant_streak = self.stagnant_streak + 1 if any(f.kind == "vary" for f in found) else 0
        return found


class ArcCritic(Critic):
    kind = "arc"

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        self.rules = ArcRules(self)

    def findings(self, event: ev.BarPlayed) -> list[Finding]:
        return self.rules.findings()


class SilentCritic(Actor):
    """No critique: the safe fallback, and the choice for sets that want none."""

    kind = "none"
