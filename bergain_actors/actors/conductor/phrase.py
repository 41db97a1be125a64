"""``phrase``: one schema-constrained JSON decision per phrase from a (small) LM, asked ahead of time.

For the phrase starting at bar P the brain sends one ``LMRequest`` (id ``phrase:P``) when the Conductor plans bar
P - ``lead_bars``, with a compact view of the set; the router's ``deadline_bar`` is the moment P gets planned. The
answer is validated and clamped in code (``decision.py``), logged as ``PhraseDecision`` and applied at P through
``move`` (so the mixer's guardrails judge every move). No answer by then, an ``LMFailed`` or garbage: the brain
declines and the next one (the autopilot) decides that phrase. Offline (``SetStarted.fast``) the streamer waits for
plans, so the brain holds planning at P until the answer or the failure arrives instead of being "late".

Leading and falling back: a failed or late LM steps the Conductor's lead down past this brain; the router
reporting a provider healthy again (``ProviderStateChanged`` to ``closed``, ``ProviderHealth`` turning healthy, the
local server starting) brings it back to the top, and so does a phrase request sent while below (a probe: it keeps
the breaker's half-open probe fed) being answered in time. Everything here is decided from events alone.
"""

from __future__ import annotations

from typing import Any

from bergain_actors.actors.conductor import decision as dec
from bergain_actors.actors.conductor.autopilot import AutopilotBrain
from bergain_actors.actors.conductor.base import Brain, Conductor
from bergain_actors.core import events as ev
from bergain_actors.music import arc
from bergain_actors.music.mixer import known_patterns


class PhraseBrain(Brain):
    name = "phrase"

    def __init__(self, conductor: Conductor) -> None:
        super().__init__(conductor)
        config = conductor.config
        self.lead_bars = max(config.lead_bars, 1)
        self.healthy: bool | None = None
        self.roles = sorted(self.mixer.menu)
        self.patterns = known_patterns()
        self.schema = dec.schema(self.roles, self.patterns)
        self.grammar = dec.grammar(self.roles, self.patterns)
        self.starts = _phrase_starts(self.total, conductor.phrase_bars)
        self.asked: dict[int, str] = {}
        """Phrase start → request id, for every phrase asked about."""
        self.answers: dict[int, ev.LMResponse | ev.LMFailed] = {}

    @property
    def rules(self) -> AutopilotBrain:
        """The autopilot below: it shapes each new phase and steers when the LM's moves leave the arc."""
        rules = self.conductor.brain("autopilot")
        assert isinstance(rules, AutopilotBrain)
        return rules

    # --- events ---------------------------------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        conductor = self.conductor
        if isinstance(event, ev.LMResponse | ev.LMFailed):
            self.answered(event)
        elif isinstance(event, ev.ProviderStateChanged):
            if event.new == "closed":
                conductor.recover(f"{event.provider} is healthy again")
        elif isinstance(event, ev.LocalServerChanged):
            if event.status == "started":
                conductor.recover(f"{event.provider}'s local server is up")
        elif isinstance(event, ev.ProviderHealth):
            healthy = any(state == "closed" for state in event.states.values())
            if healthy and self.healthy is False:
                conductor.recover("a provider is healthy again")
            self.healthy = healthy

    def answered(self, event: ev.LMResponse | ev.LMFailed) -> None:
        bar = _phrase_of(event.request_id)
        if bar is None or self.asked.get(bar) != event.request_id or bar in self.answers:
            return
        conductor = self.conductor
        self.answers[bar] = event
        in_time = bar >= conductor.next_bar
        if isinstance(event, ev.LMFailed):
            if self.leading:
                conductor.step_down(f"LM failed for bar {bar}: {event.reason}")
        elif in_time and conductor.below("phrase"):
            conductor.lead_with("phrase", f"the LM answered for bar {bar}")
        conductor.plan_through(conductor.horizon)

    # --- planning -------------------------------------------------------------------------------------------------

    def above_leads(self) -> bool:
        """Whether a brain above this one (the rlm) leads now: then this one neither asks nor waits."""
        names = [b.name for b in self.conductor.brains]
        return self.conductor.lead < names.index(self.name)

    def ready(self, bar: int) -> bool:
        """Asks ahead for the phrases within ``lead_bars`` bars; offline, holds phrase starts until answered."""
        if self.above_leads():
            return True
        fast = self.conductor.fast
        for start in self.starts:
            soonest = bar if fast else bar + 1  # live, the bar being planned is too late to ask about
            if soonest <= start <= bar + self.lead_bars and start not in self.asked:
                self.ask(start)
        if fast and bar in self.asked:
            return bar in self.answers  # offline, even a stepped-down brain waits: an answer lets it climb back
        return True

    def planned(self) -> None:
        next_bar = self.conductor.next_bar
        for old in [b for b in self.asked if b < next_bar - 1 - self.conductor.phrase_bars]:
            self.asked.pop(old)
            self.answers.pop(old, None)

    def ask(self, bar: int) -> None:
        conductor = self.conductor
        phase, target, cap = arc.phase_at(bar, self.total, conductor.phrase_bars)
        energies = list(conductor.energies)
        summary = [round(sum(energies[i : i + 4]) / len(energies[i : i + 4]), 2) for i in range(0, len(energies), 4)]
        text = dec.view(
            brief=conductor.brief,
            bar=bar,
            total=self.total,
            phase=phase,
            target=target,
            cap=cap,
            mixer=self.mixer.snapshot(),
            roles=self.roles,
            energies=summary,
            directives=[d.text for d in self.directives[-3:]],
            said=self.heard(),
        )
        request_id = f"phrase:{bar}"
        self.asked[bar] = request_id
        self.ctx.emit(
            ev.LMRequest(
                request_id=request_id,
                purpose="phrase",
                messages=({"role": "system", "content": dec.SYSTEM}, {"role": "user", "content": text}),
                model=conductor.config.main_lm,
                response_schema=self.schema,
                grammar=self.grammar,
                max_tokens=conductor.config.decision_tokens,
                deadline_bar=max(bar - conductor.lookahead + 1, 0),
                bar=conductor.next_bar,
            )
        )

    # --- deciding -------------------------------------------------------------------------------------------------

    def decide(self, bar: int, new_phase: bool) -> bool:
        answer = self.answers.get(bar)
        if bar not in self.asked:  # the phrase came too soon to ask about (the set's start, a change of lead)
            return False
        if answer is None:
            self.conductor.step_down(f"LM late for bar {bar}")
            return False
        if isinstance(answer, ev.LMFailed):
            return False
        try:
            decision, notes = dec.parse(answer.text, self.roles, self.patterns, self.target)
        except dec.InvalidDecision as exc:
            self.ctx.emit(
                ev.PhraseDecision(
                    decision={"fallback": "autopilot"}, raw=answer.text, clamped=(str(exc),), bar=bar, cause=answer.seq
                )
            )
            return False
        self.ctx.emit(
            ev.PhraseDecision(decision=decision, raw=answer.text, clamped=tuple(notes), bar=bar, cause=answer.seq)
        )
        self.apply(decision, bar, new_phase)
        return True

    def apply(self, decision: dict[str, Any], bar: int, new_phase: bool) -> None:
        """The arc shapes each new phase; the LM's moves color it; when they leave the mix far off the arc's
        energy (a small model will), the autopilot steers once."""
        rules = self.rules
        if new_phase:
            rules.enter_phase(bar)
        moved = 0
        for role in decision["remove"]:
            moved += self.move("remove", role, bar) == "ok"
        for change in decision["change"]:
            if change["gain"] is not None:
                moved += self.move("fader", change["role"], bar, gain=change["gain"]).startswith(("ok", "clamped"))
            if change["pattern"] != dec.KEEP:
                moved += self.move("pattern", change["role"], bar, name=change["pattern"]) == "ok"
        for add in decision["add"]:
            pattern = "" if add["pattern"] == dec.DEFAULT else add["pattern"]
            verdict = self.move("add", add["role"], bar, gain=add["gain"] or 0.6, pattern=pattern)
            moved += verdict.startswith(("ok", "clamped"))
        if decision["breakdown"]:
            moved += self.move("breakdown", "", bar, bars=self.conductor.phrase_bars).startswith("ok")
        if not moved or abs(self.mixer.energy() - self.target) > DRIFT:
            rules.steer(bar)
        if new_phase:
            self.conductor.fit_cap(bar)
        directive = self.directives.pop() if self.directives else None
        self.directives.clear()
        if directive is not None:
            self.acted(directive, f"phrase decision: {moved} moves", bar)


class PhraseConductor(Conductor):
    """The phrase brain leading, the autopilot under it."""

    kind = "phrase"
    brain_kind = "phrase"


DRIFT = 0.25
"""How far from the arc's energy target an LM decision may leave the mix before the autopilot corrects it."""


def _phrase_starts(total: int, phrase_bars: int) -> list[int]:
    """Where brains decide: every ``phrase_bars`` bars, and wherever the arc enters a new phase."""
    starts = []
    previous = ""
    for bar in range(total):
        phase = arc.phase_at(bar, total, phrase_bars)[0]
        if phase != previous or bar % phrase_bars == 0:
            starts.append(bar)
        previous = phase
    return starts


def _phrase_of(request_id: str) -> int | None:
    kind, _, bar = request_id.partition(":")
    return int(bar) if kind == "phrase" and bar.isdigit() else None
