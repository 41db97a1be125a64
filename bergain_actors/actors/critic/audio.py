"""``audio``: a Critic that judges what the bars measured (``BarPlayed.heard``: loudness, spectral centroid, kick
presence, low end, stereo width) against the arc, e.g. a breakdown that still thumps, a hiss bath with nothing
under it, a peak without its kick. The plans' rules of the ``arc`` critic (energy, density, repetition) still
apply: hearing adds to them, it does not replace them."""

from __future__ import annotations

from typing import Any

from bergain_actors.actors.critic.arc import ArcRules
from bergain_actors.actors.critic.base import Critic
from bergain_actors.core import events as ev
from bergain_actors.core.actor import ActorContext
from bergain_actors.music import arc
from bergain_actors.music.critique import Finding, hear_critique

PEAKS = ("peak", "peak2")


class AudioCritic(Critic):
    kind = "audio"

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        self.rules = ArcRules(self)
        self.peak_db: float | None = None
        """The loudest the peaks have measured so far (dBFS RMS, a running mean over their bars)."""
        self._peak_bars = 0

    def heard(self, event: ev.BarPlayed) -> None:
        phase = arc.phase_at(event.bar, self.ctx.set.total_bars, self.phrase_bars)[0]
        if phase in PEAKS and event.heard is not None:
            self._peak_bars += 1
            mean = self.peak_db if self.peak_db is not None else event.heard.loudness_db
            self.peak_db = round(mean + (event.heard.loudness_db - mean) / self._peak_bars, 3)

    def findings(self, event: ev.BarPlayed) -> list[Finding]:
        heard = hear_critique(
            list(self.played),
            total_bars=self.ctx.set.total_bars,
            every_bars=self.every,
            phrase_bars=self.phrase_bars,
            peak_db=self.peak_db,
        )
        kinds = {f.kind for f in heard}
        planned = [f for f in self.rules.findings() if f.kind not in kinds]
        return heard + planned
