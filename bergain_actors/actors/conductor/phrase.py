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

from collections import deque

from bergain_actors.actors.conductor import decision as dec
from bergain_actors.actors.conductor import menu
from bergain_actors.actors.conductor.autopilot import AutopilotBrain
from bergain_actors.actors.conductor.base import Brain, Conductor
from bergain_actors.actors.conductor.brief import Tone
from bergain_actors.core import events as ev
from bergain_actors.music import arc


class PhraseBrain(Brain):
    name = "phrase"

    def __init__(self, conductor: Conductor) -> None:
        super().__init__(conductor)
        config = conductor.config
        self.lead_bars = max(config.lead_bars, 1)
        self.healthy: bool | None = None
        self.menus: dict[int, list[menu.Option]] = {}
        """Phrase start → the menu the LM was shown for it."""
        self.touched: deque[str] = deque(maxlen=4)
        """Roles this brain moved lately, latest last."""
        self.starts = _phrase_starts(self.total, conductor.phrase_bars)
        self.asked: dict[int, str] = {}
        """Phrase start → request id, for every phrase asked about."""
        self.answers: dict[int, ev.LMResponse | ev.LMFailed] = {}

    @property
    def tone(self) -> Tone:
        return self.conductor.tone

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
        if fast and self.menus.get(bar):
            return bar in self.answers  # offline, even a stepped-down brain waits: an answer lets it climb back
        return True

    def planned(self) -> None:
        next_bar = self.conductor.next_bar
        for old in [b for b in self.asked if b < next_bar - 1 - self.conductor.phrase_bars]:
            self.asked.pop(old)
            self.answers.pop(old, None)
            self.menus.pop(old, None)

    def moment(self, bar: int, phrase_start: bool) -> menu.Moment:
        phase, target, cap = self.conductor.shaped(bar)
        return menu.Moment(
            bar=bar,
            phase=phase,
            target=target,
            cap=cap,
            total=self.total,
            phrase_start=phrase_start,
            directives=tuple(d.kind for d in self.directives[-3:]),
            recent_roles=tuple(self.touched),
        )

    def menu_for(self, bar: int, phrase_start: bool) -> list[menu.Option]:
        moment = self.moment(bar, phrase_start)
        return menu.build(self.mixer, moment, self.tone, self.ctx.rng(bar, "menu"), frozenset(self.conductor.textures))

    def ask(self, bar: int) -> None:
        conductor = self.conductor
        if not self.mixer.audible():  # nothing plays yet: the autopilot lays the intro groove first
            return
        phase_before = arc.phase_at(bar - 1, self.total, conductor.phrase_bars)[0]
        phrase_start = arc.phase_at(bar, self.total, conductor.phrase_bars)[0] != phase_before
        options = self.menu_for(bar, phrase_start or bar == 0)
        request_id = f"phrase:{bar}"
        self.asked[bar] = request_id
        self.menus[bar] = options
        if not options:  # nothing valid to offer: nothing to ask; the autopilot decides this phrase (``decide``)
            return
        moment = self.moment(bar, phrase_start)
        text = dec.view(
            brief=conductor.brief,
            bar=bar,
            total=self.total,
            phase=moment.phase,
            target=moment.target,
            energy=self.mixer.energy(),
            mixer=self.mixer.snapshot(),
            directives=[d.text for d in self.directives[-2:]],
            options=options,
            said=self.heard(),
        )
        self.ctx.emit(
            ev.LMRequest(
                request_id=request_id,
                purpose="phrase",
                messages=({"role": "system", "content": dec.SYSTEM}, {"role": "user", "content": text}),
                model=conductor.config.main_lm,
                response_schema=dec.schema(len(options)),
                grammar=dec.grammar(len(options)),
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
        if not self.menus.get(bar):
            decision = {"fallback": "autopilot", "hold": "no valid move to offer"}
            self.ctx.emit(ev.PhraseDecision(decision=decision, bar=bar))
            return False
        if answer is None:
            self.conductor.step_down(f"LM late for bar {bar}")
            return False
        if isinstance(answer, ev.LMFailed):
            return False
        offered = self.menus.get(bar, [])
        try:
            choice, notes = dec.parse(answer.text, len(offered))
        except dec.InvalidDecision as exc:
            self.ctx.emit(
                ev.PhraseDecision(
                    decision={"fallback": "autopilot"}, raw=answer.text, clamped=(str(exc),), bar=bar, cause=answer.seq
                )
            )
            return False
        rules = self.rules
        if new_phase:
            rules.enter_phase(bar)  # the arc shapes each new phase; the LM's move colours it
        chosen = offered[choice["move"] - 1]
        option = self.still_valid(chosen, bar, new_phase, choice["move"], notes)
        decision = {**choice, "menu": [o.label for o in offered], "label": chosen.label}
        if option is None:
            decision["hold"] = "the mix already is where the chosen move would take it, and nothing else fits"
        self.ctx.emit(
            ev.PhraseDecision(decision=decision, raw=answer.text, clamped=tuple(notes), bar=bar, cause=answer.seq)
        )
        applied = [] if option is None else [self.apply(option, bar, answer.seq)]
        nudge = self.intent(choice["energy"], bar, answer.seq)
        if nudge is not None:
            applied.append(nudge)
        if abs(self.mixer.energy() - self.target) > DRIFT:
            rules.steer(bar)
        if new_phase:
            self.conductor.fit_cap(bar)
        directive = self.directives.pop() if self.directives else None
        self.directives.clear()
        answering = next((o for o in applied if directive is not None and directive.kind in o.answers), None)
        if directive is not None and answering is not None:
            self.acted(directive, answering.label, bar)
        return True

    def still_valid(
        self, chosen: menu.Option, bar: int, new_phase: bool, number: int, notes: list[str]
    ) -> menu.Option | None:
        """The chosen option if it still applies now (the phase's shaping may have moved the mix since the menu
        was built); else the same move from a menu built now, else the option at the same number in it."""
        moment = self.moment(bar, new_phase)
        if menu.valid(self.mixer, chosen, moment, self.tone):
            return chosen
        fresh = self.menu_for(bar, new_phase)
        same = next((o for o in fresh if o.label == chosen.label), None)
        if same is not None:
            return same
        if not fresh:
            notes.append(f"{chosen.label!r} no longer applies and nothing else does: a deliberate hold")
            return None
        replacement = fresh[min(number, len(fresh)) - 1]
        notes.append(f"{chosen.label!r} no longer applies → {replacement.label!r}")
        return replacement

    def apply(self, option: menu.Option, bar: int, cause: int) -> menu.Option:
        self.move(option.move, option.role, bar, cause=cause, **option.args)
        self.touched.append(option.role)
        return option

    def intent(self, energy: str, bar: int, cause: int) -> menu.Option | None:
        """The LM's energy intent, as far as the arc allows it: one small fader move in that direction, never
        past the target's tolerance (no energy jumps), never at a phase's first phrase."""
        if energy == "hold":
            return None
        now, target = self.mixer.energy(), self.target
        if (energy == "up" and now >= target + INTENT_TOLERANCE) or (energy == "down" and now <= target - 0.1):
            return None
        fresh = self.menu_for(bar, False)
        for option in fresh:
            rising = option.energy > now
            if (
                option.move == "fader"
                and rising == (energy == "up")
                and abs(option.energy - target) <= 0.1 + abs(now - target)
            ):
                return self.apply(option, bar, cause)
        return None


class PhraseConductor(Conductor):
    """The phrase brain leading, the autopilot under it."""

    kind = "phrase"
    brain_kind = "phrase"


DRIFT = 0.25
"""How far from the arc's energy target an LM decision may leave the mix before the autopilot corrects it."""

INTENT_TOLERANCE = 0.1
"""How far above the arc's target an "up" intent may still lift the mix."""


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
