"""``phrase``: one schema-constrained JSON decision per phrase from a (small) LM, asked ahead of time.

For the phrase starting at bar P the brain sends one ``LMRequest`` (id ``phrase:P``) when it plans bar
P - ``lead_bars``, with a compact view of the set; the router's ``deadline_bar`` is the moment P gets planned. The
answer is validated and clamped in code (``decision.py``), logged as ``PhraseDecision`` and applied at P through
``self.move`` (so the mixer's guardrails judge every move). No answer by then, an ``LMFailed`` or garbage: the
autopilot decides that phrase. Offline (``SetStarted.fast``) the streamer waits for plans, so the brain holds
planning at P until the answer or the failure arrives instead of being "late".

Brain levels (shared with ``rlm``): the conductor runs the highest level of ``[kind, *fallback]`` the LM allows.
It steps down one level when the LM fails or is late, and climbs back to the top when the router reports a
provider healthy again (``ProviderStateChanged`` to ``closed``, or ``ProviderHealth`` turning healthy) or when a
phrase request sent while below the phrase level (a probe: it keeps the breaker's half-open probe fed) is
answered in time. Every change is a ``BrainChanged``. Everything here is decided from events alone.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from bergain_actors.actors.conductor import decision as dec
from bergain_actors.actors.conductor.autopilot import Autopilot
from bergain_actors.core import events as ev
from bergain_actors.core.actor import ActorContext
from bergain_actors.music import arc
from bergain_actors.music.mixer import known_patterns

BRAINS = ("rlm", "phrase", "autopilot")
"""Every brain level, most capable first."""


class PhraseConductor(Autopilot):
    kind = "phrase"
    subscribes = (
        *Autopilot.subscribes,
        ev.LMResponse,
        ev.LMFailed,
        ev.ProviderStateChanged,
        ev.ProviderHealth,
        ev.LocalServerChanged,
    )

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        allowed = BRAINS[BRAINS.index(self.kind) :]
        self.levels = [self.kind] + [b for b in allowed if b in config.fallback and b != self.kind]
        if self.levels[-1] != "autopilot":
            self.levels.append("autopilot")
        self.level = self.levels[0]
        self.brief = config.brief
        self.lead = max(config.lead_bars, 1)
        self.fast = ctx.set.fast
        self.horizon = -1
        self.healthy: bool | None = None
        self.roles = sorted(self.mixer.menu)
        self.patterns = known_patterns()
        self.schema = dec.schema(self.roles, self.patterns)
        self.grammar = dec.grammar(self.roles, self.patterns)
        self.starts = _phrase_starts(self.total, self.phrase_bars)
        self.asked: dict[int, str] = {}
        """Phrase start → request id, for every phrase asked about."""
        self.answers: dict[int, ev.LMResponse | ev.LMFailed] = {}
        self.energies: deque[float] = deque(maxlen=16)
        self._planning = False

    # --- events ---------------------------------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.SetStarted):
            self.fast = event.fast
        if isinstance(event, ev.LMResponse | ev.LMFailed):
            self.answered(event)
        elif isinstance(event, ev.ProviderStateChanged):
            if event.new == "closed":
                self.recover(f"{event.provider} is healthy again")
        elif isinstance(event, ev.LocalServerChanged):
            if event.status == "started":
                self.recover(f"{event.provider}'s local server is up")
        elif isinstance(event, ev.ProviderHealth):
            healthy = any(state == "closed" for state in event.states.values())
            if healthy and self.healthy is False:
                self.recover("a provider is healthy again")
            self.healthy = healthy
        else:
            super().handle(event)

    def answered(self, event: ev.LMResponse | ev.LMFailed) -> None:
        bar = _phrase_of(event.request_id)
        if bar is None or self.asked.get(bar) != event.request_id or bar in self.answers:
            return
        self.answers[bar] = event
        in_time = bar >= self.next_bar
        if isinstance(event, ev.LMFailed):
            if self.level == "phrase":
                self.step_down(f"LM failed for bar {bar}: {event.reason}")
        elif in_time and self.below("phrase"):
            self.change_brain("phrase", f"the LM answered for bar {bar}")
        self.plan_through(self.horizon)

    # --- brain levels ---------------------------------------------------------------------------------------------

    def below(self, level: str) -> bool:
        return level in self.levels and self.levels.index(self.level) > self.levels.index(level)

    def step_down(self, reason: str) -> None:
        index = self.levels.index(self.level)
        if index + 1 < len(self.levels):
            self.change_brain(self.levels[index + 1], reason)

    def recover(self, reason: str) -> None:
        self.change_brain(self.levels[0], reason)

    def change_brain(self, new: str, reason: str) -> None:
        if new == self.level:
            return
        old, self.level = self.level, new
        self.ctx.emit(ev.BrainChanged(old=old, new=new, reason=reason, bar=self.next_bar))
        self.brain_changed(old, new)
        self.plan_through(self.horizon)

    def brain_changed(self, old: str, new: str) -> None:
        """Hook for brains with more machinery (the rlm worker)."""

    # --- planning -------------------------------------------------------------------------------------------------

    def plan_through(self, bar: int) -> None:
        """Remembers how far planning may go, so an answer arriving later can resume it; never re-entered from
        inside a bar being planned (a brain change there takes effect from the next bar)."""
        self.horizon = max(self.horizon, bar)
        if self._planning:
            return
        self._planning = True
        try:
            super().plan_through(bar)
        finally:
            self._planning = False
        self.planned()

    def planned(self) -> None:
        """Hook after planning moved on (the rlm brain answers ``play`` here)."""

    def ready(self, bar: int) -> bool:
        """Asks ahead for the phrases within ``lead`` bars; offline, holds phrase starts until answered."""
        if self.level != "rlm" and "phrase" in self.levels:
            for start in self.starts:
                soonest = bar if self.fast else bar + 1  # live, the bar being planned is too late to ask about
                if soonest <= start <= bar + self.lead and start not in self.asked:
                    self.ask(start)
        if self.fast and self.level != "rlm" and "phrase" in self.levels and bar in self.asked:
            return bar in self.answers  # offline, even a stepped-down brain waits: an answer lets it climb back
        return True

    def plan_bar(self, bar: int) -> None:
        super().plan_bar(bar)
        self.energies.append(self.mixer.energy())
        for old in [b for b in self.asked if b < bar - self.phrase_bars]:
            self.asked.pop(old)
            self.answers.pop(old, None)

    def ask(self, bar: int) -> None:
        phase, target, cap = arc.phase_at(bar, self.total)
        energies = list(self.energies)
        summary = [round(sum(energies[i : i + 4]) / len(energies[i : i + 4]), 2) for i in range(0, len(energies), 4)]
        text = dec.view(
            brief=self.brief,
            bar=bar,
            total=self.total,
            phase=phase,
            target=target,
            cap=cap,
            mixer=self.mixer.snapshot(),
            roles=self.roles,
            energies=summary,
            directives=[d.text for d in self.directives[-3:]],
        )
        request_id = f"phrase:{bar}"
        self.asked[bar] = request_id
        self.ctx.emit(
            ev.LMRequest(
                request_id=request_id,
                purpose="phrase",
                messages=({"role": "system", "content": dec.SYSTEM}, {"role": "user", "content": text}),
                model=self.config.main_lm,
                response_schema=self.schema,
                grammar=self.grammar,
                max_tokens=self.config.decision_tokens,
                deadline_bar=max(bar - self.lookahead + 1, 0),
                bar=self.next_bar,
            )
        )

    # --- deciding -------------------------------------------------------------------------------------------------

    def on_phrase(self, bar: int, new_phase: bool) -> None:
        if self.level != "phrase":
            super().on_phrase(bar, new_phase)
            return
        answer = self.answers.get(bar)
        if bar not in self.asked:  # the phrase came too soon to ask about (the set's start, a brain change)
            super().on_phrase(bar, new_phase)
            return
        if answer is None:
            self.step_down(f"LM late for bar {bar}")
            super().on_phrase(bar, new_phase)
            return
        if isinstance(answer, ev.LMFailed):
            super().on_phrase(bar, new_phase)
            return
        try:
            decision, notes = dec.parse(answer.text, self.roles, self.patterns, self.target)
        except dec.InvalidDecision as exc:
            self.ctx.emit(
                ev.PhraseDecision(
                    decision={"fallback": "autopilot"}, raw=answer.text, clamped=(str(exc),), bar=bar, cause=answer.seq
                )
            )
            super().on_phrase(bar, new_phase)
            return
        self.ctx.emit(
            ev.PhraseDecision(decision=decision, raw=answer.text, clamped=tuple(notes), bar=bar, cause=answer.seq)
        )
        self.apply(decision, bar, new_phase)

    def apply(self, decision: dict[str, Any], bar: int, new_phase: bool) -> None:
        """The arc shapes each new phase; the LM's moves color it; when they leave the mix far off the arc's
        energy (a small model will), the autopilot steers once."""
        if new_phase:
            self.enter_phase(bar)
        moved = 0
        for role in decision["remove"]:
            moved += self.move("remove", role, bar) == "ok"
        for change in decision["change"]:
            if change["gain"] is not None:
                moved += not self.move("fader", change["role"], bar, gain=change["gain"]).startswith("ref")
            if change["pattern"] != dec.KEEP:
                moved += self.move("pattern", change["role"], bar, name=change["pattern"]) == "ok"
        for add in decision["add"]:
            pattern = "" if add["pattern"] == dec.DEFAULT else add["pattern"]
            moved += not self.move("add", add["role"], bar, gain=add["gain"] or 0.6, pattern=pattern).startswith("ref")
        if decision["breakdown"]:
            moved += self.move("breakdown", "", bar, bars=self.phrase_bars).startswith("ok")
        if not moved or abs(self.mixer.energy() - self.target) > DRIFT:
            self.steer(bar)
        if new_phase:
            self.fit_cap(bar)
        directive = self.directives.pop() if self.directives else None
        self.directives.clear()
        if directive is not None:
            self.acted(directive, f"phrase decision: {moved} moves", bar)

    def fit_cap(self, bar: int) -> None:
        """A new phase may allow fewer layers than are playing: keep the kick and the loudest others."""
        audible = sorted(self.mixer.audible(), key=lambda c: (c.role != "kick", -c.gain, c.role))
        for channel in audible[self.cap :]:
            self.move("remove", channel.role, bar)


DRIFT = 0.25
"""How far from the arc's energy target an LM decision may leave the mix before the autopilot corrects it."""


def _phrase_starts(total: int, phrase_bars: int) -> list[int]:
    """Where brains decide: every ``phrase_bars`` bars, and wherever the arc enters a new phase."""
    starts = []
    previous = ""
    for bar in range(total):
        phase = arc.phase_at(bar, total)[0]
        if phase != previous or bar % phrase_bars == 0:
            starts.append(bar)
        previous = phase
    return starts


def _phrase_of(request_id: str) -> int | None:
    kind, _, bar = request_id.partition(":")
    return int(bar) if kind == "phrase" and bar.isdigit() else None
