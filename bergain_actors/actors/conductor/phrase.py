"""``phrase``: one LM choice per phrase among moves code made valid, scored by the LM's probabilities.

For the phrase starting at bar P the brain sends one ``LMRequest`` (id ``phrase:P``) when the Conductor plans bar
P - ``lead_bars``: a ``choice`` ballot over the menu (``decision.py`` words the moment and the moves); the router's
``deadline_bar`` is the moment P gets planned. The answer's label probabilities, calibrated, pick a move with the
set's seeded RNG at the scenario's ``temperature``; the ``Choice`` is logged in the ``PhraseDecision`` and the move
applied at P through ``move`` (so the mixer's guardrails judge every move). No answer by then, an ``LMFailed`` or
nothing readable: the brain declines and the next one (the autopilot) decides that phrase.

Offline (``SetStarted.fast``) the streamer waits for plans, so the brain holds planning at P until the answer or
the failure arrives instead of being "late"; and the set must not depend on *when* it arrives: an answer takes
effect only when P is planned (``ready``), and while planning waits for it the Conductor holds every other event
back (``Conductor.awaiting``), so the same answers give the same set at any arrival time.

Leading and falling back: a failed or late LM steps the Conductor's lead down past this brain; the router
reporting a provider healthy again (``ProviderStateChanged`` to ``closed``, ``ProviderHealth`` turning healthy, the
local server starting) brings it back to the top, and so does a phrase request sent while below (a probe: it keeps
the breaker's half-open probe fed) being answered in time. Everything here is decided from events alone.
"""

from __future__ import annotations

from collections import deque

from bergain_actors import choice
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
        self.ballots: dict[int, choice.Ballot] = {}
        """Phrase start → the ballot its request scores."""
        self.priors: dict[int, tuple[str, tuple[float, ...]]] = {}
        """Menu size → (provider, its content-free prior): measured once, so later ballots of that size skip the
        content-free prompt (one scored prompt less per phrase)."""
        self.taken: set[int] = set()
        """Phrase starts whose answer has had its effect on the lead (offline: when the phrase is planned)."""
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
        if conductor.fast:  # offline the answer acts when its phrase is planned (``ready``), whenever it came
            if conductor.awaiting == event.request_id:
                conductor.awaiting = None
                conductor.plan_through(conductor.horizon)
            return
        self.take(bar, event)
        conductor.plan_through(conductor.horizon)

    def take(self, bar: int, event: ev.LMResponse | ev.LMFailed) -> None:
        """What an answer does to the lead: a failure steps this brain down, an answer in time brings it back."""
        conductor = self.conductor
        self.taken.add(bar)
        if isinstance(event, ev.LMFailed):
            if self.leading:
                conductor.step_down(f"LM failed for bar {bar}: {event.reason}")
        elif bar >= conductor.next_bar and conductor.below("phrase"):
            conductor.lead_with("phrase", f"the LM answered for bar {bar}")

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
        if fast and self.menus.get(bar):  # offline, even a stepped-down brain waits: an answer lets it climb back
            answer = self.answers.get(bar)
            if answer is None:
                self.conductor.awaiting = self.asked[bar]
                return False
            if bar not in self.taken:
                self.take(bar, answer)
        return True

    def planned(self) -> None:
        next_bar = self.conductor.next_bar
        for old in [b for b in self.asked if b < next_bar - 1 - self.conductor.phrase_bars]:
            self.asked.pop(old)
            self.answers.pop(old, None)
            self.menus.pop(old, None)
            self.ballots.pop(old, None)
            self.taken.discard(old)

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
        text = dec.context(
            brief=conductor.brief,
            bar=bar,
            total=self.total,
            phase=moment.phase,
            target=moment.target,
            energy=self.mixer.energy(),
            mixer=self.mixer.snapshot(),
            directives=[d.text for d in self.directives[-2:]],
            said=self.heard(),
        )
        config = conductor.config
        ballot = choice.ballot(
            [dec.describe(o) for o in options],
            system=dec.SYSTEM,
            context=text,
            question=dec.QUESTION,
            rng=self.ctx.rng(bar, "ballot"),
            orders=config.ballot_orders,
            calibrate=len(options) not in self.priors,
        )
        self.ballots[bar] = ballot
        request = choice.request(
            ballot,
            request_id=request_id,
            purpose="phrase",
            model=config.main_lm,
            deadline_bar=max(bar - conductor.lookahead + 1, 0),
            bar=conductor.next_bar,
        )
        self.ctx.emit(request)

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
        offered, ballot = self.menus[bar], self.ballots[bar]
        measured = choice.prior_of(ballot, answer)
        if measured:
            self.priors[len(offered)] = (answer.provider, measured)
        provider, prior = self.priors.get(len(offered), ("", ()))
        temperature = self.conductor.config.temperature
        prior = prior if provider == answer.provider else ()  # another model's bias is not this one's
        picked = choice.decide(ballot, answer, temperature, self.ctx.rng(bar, "pick"), prior)
        if picked.index < 0:
            note = f"no move could be read from {answer.text[:40]!r}"
            decision = {"fallback": "autopilot", "choice": picked.logged()}
            fallback = ev.PhraseDecision(decision=decision, raw=answer.text, clamped=(note,), bar=bar, cause=answer.seq)
            self.ctx.emit(fallback)
            return False
        rules = self.rules
        if new_phase:
            rules.enter_phase(bar)  # the arc shapes each new phase; the LM's move colours it
        chosen = offered[picked.index]
        notes: list[str] = []
        option = self.still_valid(chosen, bar, new_phase, picked.index + 1, notes)
        decision = {
            "move": picked.index + 1,
            "label": chosen.label,
            "p": picked.calibrated[picked.index] if picked.calibrated else 1.0,
            "method": picked.method,
            "menu": [o.label for o in offered],
            "choice": picked.logged(),
        }
        if option is None:
            decision["hold"] = "the mix already is where the chosen move would take it, and nothing else fits"
        self.ctx.emit(
            ev.PhraseDecision(decision=decision, raw=answer.text, clamped=tuple(notes), bar=bar, cause=answer.seq)
        )
        applied = [] if option is None else [self.apply(option, bar, answer.seq)]
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
