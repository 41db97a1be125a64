"""The Conductor: the mechanics every set shares, and an ordered list of brains that decide the music.

The Conductor owns the mixer, keeps ``lookahead`` bars planned ahead of the streamer, walks the arc, hears the
Critic, and turns every move into an event. It decides nothing itself: at each phrase start it asks its brains,
most capable first from the one leading now, and the first that does not decline decides the phrase. The last
brain (the autopilot, or the hold) never declines, so a phrase is always decided and the music never stops. In the
middle of each phrase the brains are asked the same way whether to turn the groove a little (``turn``: the
autopilot changes one role's pattern in a groove phase).

Pacing: bars 0..lookahead-1 are planned when the set starts; each ``BarPlayed(k)`` asks for bar k+lookahead. A
brain may hold planning back (``ready``: offline, the phrase brain waits for its LM answer) and an answer arriving
later resumes it up to ``horizon``.

Leading brain: ``lead`` is the index of the brain asked first. A brain whose LM fails or is late steps the lead
down one brain (``step_down``); the router reporting a provider healthy again brings it back to the top
(``recover``). Each change is a ``BrainChanged``. A swap (``swap conductor X``) builds a new Conductor with X's
chain, which picks up the groove from the last plan. Everything is decided from events alone.

Steering (``Steer`` events from a person) is the Conductor's, whichever brains it holds: ``hold``/``resume`` take
effect at the next bar planned (holding, no brain is asked and no move is made but what a person asked for);
words and energy wait for the next ``STEER_GRID``-bar line, after that bar's phrase decision (so it never undoes
a request), where the brains from the leading one down answer through ``Brain.on_steer`` (the LM brains decline
and read the words in their next prompt through ``heard``; the autopilot maps them to moves). A ``SteerActed``
says how each was honoured. A ``StopPlanned`` turns the bars from its ``from_bar`` into an outro every chain plays
the same way (``wind_down``), ending before ``end_bar``.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections import deque
from collections.abc import Iterator
from typing import Any, ClassVar

import msgspec
import trio

from bergain_actors.actors.conductor.brief import Profile, Tone, profile
from bergain_actors.actors.conductor.words import Words
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.music import arc, arrangement
from bergain_actors.music.clip_layer import PlayingClip, layer_at, next_phrase
from bergain_actors.music.intents import Reading, lexical
from bergain_actors.music.mixer import Channel, Mixer, menu_from_pack
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Layer
from bergain_actors.music.texture import Texture
from bergain_actors.music.theory import DEFAULT_KEY

BREAKDOWN_KEEP = frozenset({"texture", "synth", "hihat", "fx", "ride"})
"""What a breakdown leaves playing: the kick and the low end drop out."""

CARRIERS = ("texture", "synth", "fx", "ride", "hihat")
"""Layers that may carry a breakdown nothing else would, in the order one is brought in."""

STEER_GRID = 4
"""Steers land on 4-bar lines: soon enough to feel answered, late enough to sit in the music."""

MAX_BIAS = 0.4
"""How far ``energy +``/``-`` may move the target away from the arc (a level set outright is not limited)."""

TEMPO_STEP = 2.0
"""BPM a tempo change moves per bar: a glide the dancers ride, never a jump."""
TEMPO_SPAN = 0.2
"""How far from the scenario's tempo a set may go, as a share of it."""

OUTRO_KEEP = ("kick", "hihat", "texture")
"""What an outro strips down to, most essential first (the kick is the last to leave)."""

BRAINS: dict[str, str] = {
    "rlm": "bergain_actors.actors.conductor.rlm.conductor:RLMBrain",
    "phrase": "bergain_actors.actors.conductor.phrase:PhraseBrain",
    "autopilot": "bergain_actors.actors.conductor.autopilot:AutopilotBrain",
    "hold": "bergain_actors.actors.conductor.autopilot:HoldBrain",
}
"""Every brain, most capable first (imported on first use: the LM brains pull in dspy)."""

LM_BRAINS = registry.ASKS_AN_LM["conductor"]

BRIEF_REQUEST = "intent:brief"


def chain(kind: str, fallback: list[str]) -> list[str]:
    """The brains a ``kind`` conductor asks, in order: itself, the fallbacks below it, and always a floor."""
    if kind not in BRAINS:
        raise LookupError(f"conductor.kind: unknown brain {kind!r} (known: {', '.join(BRAINS)})")
    if kind == "hold":
        return ["hold"]
    order = list(BRAINS)
    below = order[order.index(kind) + 1 :]
    names = [kind] + [b for b in below if b in fallback and b in LM_BRAINS]
    return names if names[-1] == "autopilot" else [*names, "autopilot"]


class Brain:
    """One way of deciding a phrase. It sees the set through its Conductor (the mixer, the arc, the directives)
    and acts only through ``move``. ``decide`` returns False to decline, and the next brain decides."""

    name: ClassVar[str] = ""

    def __init__(self, conductor: Conductor) -> None:
        self.conductor = conductor

    # --- what a brain may override ---------------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        """An event for this brain (LM answers, tool calls, provider health...), before the Conductor plans."""

    def ready(self, bar: int) -> bool:
        """Whether bar ``bar`` may be planned now."""
        return True

    def decide(self, bar: int, new_phase: bool) -> bool:
        """Decide the phrase starting at ``bar``; False declines it."""
        return False

    def planned(self) -> None:
        """Planning moved on."""

    def lead_changed(self, old: str, new: str) -> None:
        """The leading brain changed from ``old`` to ``new``."""

    def resume(self, last: dict[type[ev.Event], ev.Event]) -> None:
        """The Conductor was built mid-set (swap, restart, fallback): ``last`` holds the latest event of each type."""

    def turn(self, bar: int) -> bool:
        """The middle of a phrase: vary the groove a little (a pattern on one role) or not; False leaves it to
        the next brain."""
        return False

    def on_steer(self, steer: ev.Steer, bar: int) -> tuple[str, str] | None:
        """Answer a person's words or energy change at ``bar`` (the target has already moved for ``energy``):
        what the brain took them to mean and what it did; None declines, and the next brain answers."""
        return None

    async def work(self) -> None:
        """Background work of this brain (the rlm worker thread); runs while the Conductor lives."""

    def replay_finished(self) -> tuple[int, ev.Event | None, ev.Event | None] | None:
        """``replay --verify`` read the whole log: check work that ran outside its order (the rlm program)."""
        return None

    # --- the set as the brain sees it ------------------------------------------------------------------------------

    @property
    def ctx(self) -> ActorContext:
        return self.conductor.ctx

    @property
    def mixer(self) -> Mixer:
        return self.conductor.mixer

    @property
    def phase(self) -> str:
        return self.conductor.phase

    @property
    def target(self) -> float:
        return self.conductor.target

    @property
    def cap(self) -> int:
        return self.conductor.cap

    @property
    def total(self) -> int:
        return self.conductor.total

    @property
    def directives(self) -> list[ev.Directive]:
        return self.conductor.directives

    @property
    def leading(self) -> bool:
        return self.conductor.leader is self

    def move(self, name: str, role: str, bar: int, /, cause: int = -1, **args: Any) -> str:
        return self.conductor.move(name, role, bar, cause, **args)

    def acted(self, directive: ev.Directive, action: str, bar: int) -> None:
        self.conductor.acted(directive, action, bar)

    def heard(self) -> list[str]:
        return self.conductor.heard()


class Conductor(Actor):
    kind = "conductor"
    subscribes = (
        ev.SetStarted,
        ev.SetEnded,
        ev.BarPlayed,
        ev.Directive,
        ev.LMRequest,
        ev.LMResponse,
        ev.LMFailed,
        ev.ProviderStateChanged,
        ev.ProviderHealth,
        ev.LocalServerChanged,
        ev.ToolCall,
        ev.RLMStep,
        ev.Steer,
        ev.StopPlanned,
        ev.ClipAdded,
        ev.LinkBeat,
        ev.AbletonStatus,
        ev.LiveSnapshot,
        ev.LiveValue,
        ev.LiveTempo,
        ev.AbletonOpDone,
    )
    brain_kind: ClassVar[str] = "hold"
    """The brain this conductor leads with: each kind of conductor is a chain of brains (``chain``)."""

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        scenario = ctx.scenario
        self.total = ctx.set.total_bars
        self.bpm = scenario.bpm
        """The tempo of the next bar planned."""
        self.tempo_goal: float | None = None
        """Where a tempo change glides to (``TEMPO_STEP`` per bar); None when no glide is under way."""
        self.glided: deque[float] = deque(maxlen=8)
        """The tempos a glide passed through lately (Link echoes them back bars later)."""
        self.tempo_limits = tempo_limits(scenario.bpm)
        self.lookahead = scenario.lookahead_bars
        self.phrase_bars = config.phrase_bars
        self.brief = config.brief
        self.brief_reading = lexical(config.brief)
        self.profile: Profile = profile(self.brief_reading)
        """What the brief asks of the set (its tone, density, energy and variation), as every brain plays it."""
        self.reading: Reading | None = None
        """What the steer being answered was taken to mean (``on_steer`` reads it)."""
        self.fast = ctx.set.fast
        key = scenario.key or DEFAULT_KEY
        self.mixer = Mixer(
            menu_from_pack(ctx.set.pack, key) if ctx.set.pack is not None else {}, scenario.beats_per_bar
        )
        self.next_bar = 0
        self.horizon = -1
        self.phase = ""
        self.target = 0.0
        self.cap = 3
        self.directives: list[ev.Directive] = []
        self.restore_at = -1
        self.restore: list[str] = []
        self.textures: set[Texture] = set()
        """Every texture the mixer has played in this set (a brain prefers one not heard yet)."""
        self.energies: deque[float] = deque(maxlen=16)
        """The mixer's energy at each planned bar, latest last."""
        self.recent: deque[str] = deque(maxlen=16)
        """The latest moves in words (what an LM brain may read back)."""
        self.clips: dict[str, PlayingClip] = {}
        """Clips made from prompts (``ClipAdded``), by role: a new clip for a role replaces the old one."""
        self._planning = False
        self.end = self.total
        """The bar the set ends before: the scenario's length, or the end of an outro after ``stop``."""
        self.steers: list[ev.Steer] = []
        """Steers waiting for their bar."""
        self.said: deque[str] = deque(maxlen=3)
        """The performer's words not yet passed on to an LM brain."""
        self.holding = False
        self.bed: Layer | None = None
        """The arrangement's bed as the last bar planned it: a hold keeps it as it is."""
        self._asked = False
        self.bias = 0.0
        self.outro_from = -1
        self.brains: list[Brain] = [_brain(name)(self) for name in chain(self.brain_kind, config.fallback)]
        self.lead = 0
        self.awaiting = ""
        """Offline: the id of the LM request planning waits for ("" = none); events meanwhile go to ``held``."""
        self.held: deque[ev.Event] = deque()
        self.words = Words(self)

    @property
    def tone(self) -> Tone:
        """What the brief asks of the sound: every layer a brain adds enters at the brief's gain for its role."""
        return self.profile.tone

    def shaped(self, bar: int) -> tuple[str, float, int]:
        """The arc at ``bar`` as the brief shapes it: (phase, target energy before steers, density cap)."""
        phase, target, cap = arc.phase_at(bar, self.total, self.phrase_bars)
        return phase, round(min(1.0, max(0.05, target + self.profile.energy_bias)), 4), self.profile.cap(cap)

    @property
    def leader(self) -> Brain:
        return self.brains[self.lead]

    @property
    def level(self) -> str:
        """The leading brain's name."""
        return self.leader.name

    def brain(self, name: str) -> Brain | None:
        return next((b for b in self.brains if b.name == name), None)

    # --- events ---------------------------------------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        """Offline, while planning waits for an LM answer (``awaiting``), every other event waits too, and is
        taken in order once the answer is in: what the set does cannot depend on when the answer came."""
        if self.awaiting and not (isinstance(event, ev.LMResponse | ev.LMFailed) and event.request_id == self.awaiting):
            self.held.append(event)
            return
        self.react(event)
        while not self.awaiting and self.held:
            self.react(self.held.popleft())

    def react(self, event: ev.Event) -> None:
        if isinstance(event, ev.SetStarted):
            self.fast = event.fast
            self.words.ask(BRIEF_REQUEST, self.brief)
            if not self.words.waiting(BRIEF_REQUEST):
                self.read_brief()
        elif self.words.handle(event):
            request_id = event.request_id  # type: ignore[attr-defined]
            if request_id == BRIEF_REQUEST:
                self.read_brief()
            if self.awaiting == request_id:
                self.awaiting = ""
            self.plan_through(self.horizon)
            return
        for brain in self.brains:
            brain.handle(event)
        if isinstance(event, ev.SetStarted):
            self.plan_through(self.lookahead - 1)
        elif isinstance(event, ev.BarPlayed):
            self.plan_through(event.bar + self.lookahead)
        elif isinstance(event, ev.Directive):
            self.directives.append(event)
        elif isinstance(event, ev.Steer):
            self.steers.append(event)
            if event.intent == "say":
                self.said.append(event.text)
                line = -(-self.next_bar // STEER_GRID) * STEER_GRID
                self.words.ask(f"intent:{event.seq}", event.text, deadline_bar=max(line - self.lookahead + 1, 0))
        elif isinstance(event, ev.LinkBeat) and event.tempo not in (self.bpm, *self.glided):
            self.bpm, self.tempo_goal = event.tempo, None  # the Link session's tempo (not the echo of our own glide)
        elif isinstance(event, ev.LiveTempo):
            self.bpm, self.tempo_goal = event.tempo, None  # set in Live by someone, and the scenario follows it
        elif isinstance(event, ev.StopPlanned):
            self.outro_from, self.end = max(event.from_bar, self.next_bar), min(event.end_bar, self.end)
        elif isinstance(event, ev.ClipAdded) and event.target == "set":
            self.add_clip(event)

    def add_clip(self, event: ev.ClipAdded, start: int | None = None) -> None:
        """Play a prompt's clip from the first phrase boundary that is not planned yet (or from ``start``)."""
        if start is None:
            start = next_phrase(self.next_bar, self.phrase_bars)
        self.clips[event.role] = PlayingClip(event.role, event.notes, event.bars, start, event.seq)
        self.ctx.emit(
            ev.MixerMove(
                move="clip",
                role=f"clip_{event.role}",
                args={"bars": event.bars, "notes": len(event.notes), "from_bar": start},
                result=f"ok: plays from bar {start}",
                bar=self.next_bar,
                cause=event.seq,
            )
        )

    def resume(self, last: dict[type[ev.Event], ev.Event]) -> None:
        started = last.get(ev.SetStarted)
        if isinstance(started, ev.SetStarted):
            self.fast = started.fast
        planned = last.get(ev.BarPlanned)
        if isinstance(planned, ev.BarPlanned):
            self.mixer = Mixer.from_plan(planned.plan, self.mixer.menu)
            self.bed = arrangement.bed_of(planned.plan)
            self.next_bar = planned.plan.bar + 1
            self.bpm = planned.plan.bpm
            self.phase, target, self.cap = self.shaped(planned.plan.bar)
            self.target = planned.plan.target or target
            self.bias = round(self.target - target, 4) if planned.plan.target else 0.0
        played = last.get(ev.BarPlayed)
        if isinstance(played, ev.BarPlayed):
            self.next_bar = max(self.next_bar, played.bar + 1)
        acted = last.get(ev.SteerActed)
        self.holding = isinstance(acted, ev.SteerActed) and acted.intent == "hold"
        stop = last.get(ev.StopPlanned)
        if isinstance(stop, ev.StopPlanned):
            self.outro_from, self.end = max(stop.from_bar, self.next_bar), min(stop.end_bar, self.end)
        clip = last.get(ev.ClipAdded)
        if isinstance(clip, ev.ClipAdded) and clip.target == "set" and isinstance(planned, ev.BarPlanned):
            for layer in planned.plan.layers:
                if layer.role == f"clip_{clip.role}":  # it was sounding: it goes on where it was
                    self.clips[clip.role] = PlayingClip(
                        clip.role, clip.notes, clip.bars, layer.loop_start_bar, clip.seq
                    )
        for brain in self.brains:
            brain.resume(last)

    async def run(self, inbox: Any) -> None:
        async with trio.open_nursery() as nursery:
            for brain in self.brains:
                nursery.start_soon(brain.work)

    def replay_finished(self) -> tuple[int, ev.Event | None, ev.Event | None] | None:
        for brain in self.brains:
            mismatch = brain.replay_finished()
            if mismatch is not None:
                return mismatch
        return None

    # --- the leading brain ----------------------------------------------------------------------------------------

    def below(self, name: str) -> bool:
        """Whether the lead is below brain ``name`` (which is in the chain)."""
        names = [b.name for b in self.brains]
        return name in names and self.lead > names.index(name)

    def step_down(self, reason: str) -> None:
        if self.lead + 1 < len(self.brains):
            self.change_lead(self.lead + 1, reason)

    def recover(self, reason: str) -> None:
        self.change_lead(0, reason)

    def lead_with(self, name: str, reason: str) -> None:
        names = [b.name for b in self.brains]
        if name in names:
            self.change_lead(names.index(name), reason)

    def change_lead(self, index: int, reason: str) -> None:
        if index == self.lead:
            return
        old, self.lead = self.leader.name, index
        self.ctx.emit(ev.BrainChanged(old=old, new=self.leader.name, reason=reason, bar=self.next_bar))
        for brain in self.brains:
            brain.lead_changed(old, self.leader.name)
        self.plan_through(self.horizon)

    # --- planning -------------------------------------------------------------------------------------------------

    def ready(self, bar: int) -> bool:
        """Whether bar ``bar`` may be planned now (every brain gets to look at it: the phrase brain asks ahead);
        offline, the set waits for the LM's reading of the brief and of the steers due at ``bar``."""
        if self.fast:
            due = [f"intent:{s.seq}" for s in self.steers if s.intent == "say"] if bar % STEER_GRID == 0 else []
            waiting = next((r for r in (BRIEF_REQUEST, *due) if self.words.waiting(r)), None)
            if waiting is not None:
                self.awaiting = waiting
                return False
        return all([brain.ready(bar) for brain in self.brains])

    def plan_through(self, bar: int) -> None:
        """Plan up to ``bar`` as far as the brains allow, remembering how far planning may go so an answer arriving
        later resumes it; never re-entered from inside a bar being planned (a change of lead there takes effect
        from the next bar)."""
        self.horizon = max(self.horizon, bar)
        if self._planning:
            return
        self._planning = True
        try:
            while self.next_bar <= min(self.horizon, self.end - 1) and self.ready(self.next_bar):
                self.plan_bar(self.next_bar)
                self.next_bar += 1
        finally:
            self._planning = False
        for brain in self.brains:
            brain.planned()

    def plan_bar(self, bar: int) -> None:
        if 0 <= self.outro_from <= bar:
            with self.person_asked():
                self.wind_down(bar)
        else:
            phase, target, self.cap = self.shaped(bar)
            self.target = round(min(1.0, max(0.05, target + self.bias)), 4)
            new_phase = phase != self.phase
            if new_phase:
                self.phase = phase
                self.ctx.emit(ev.PhaseChanged(phase=phase, target_energy=self.target, bar=bar))
            if bar == self.restore_at:
                self.restore_at, restore, self.restore = -1, self.restore, []
                with self.person_asked():
                    for role in restore:
                        channel = self.mixer.channels.get(role)
                        if channel is not None and channel.muted:  # a brain may have taken it out meanwhile
                            self.move("unmute", role, bar)
            self.take_steers(bar, ("hold", "resume"))
            if not self.holding and (new_phase or bar % self.phrase_bars == 0):
                self.on_phrase(bar, new_phase)
            elif not self.holding and bar % self.phrase_bars == self.phrase_bars // 2:
                self.on_turn(bar)
            if bar % STEER_GRID == 0:
                self.take_steers(bar, ("say", "energy", "tempo"))
        if self.tempo_goal is not None:
            self.glided.append(self.bpm)
            step = max(-TEMPO_STEP, min(TEMPO_STEP, self.tempo_goal - self.bpm))
            self.bpm = round(self.bpm + step, 2)
            if self.bpm == self.tempo_goal:
                self.tempo_goal = None
        plan = arrangement.dress(
            self.mixer.plan(bar, self.bpm, self.phase),
            self.total,
            self.phrase_bars,
            self.mixer.menu,
            self.holding,
            self.bed,
        )
        self.bed = arrangement.bed_of(plan)
        plan = msgspec.structs.replace(self.with_clips(plan), target=self.target)
        self.ctx.emit(ev.BarPlanned(plan=plan, bar=bar))
        self.energies.append(self.mixer.energy())
        self.textures.add(self.mixer.texture())

    def with_clips(self, plan: BarPlan) -> BarPlan:
        layers = [layer_at(clip, plan.bar, plan.beats_per_bar * TICKS_PER_BEAT) for clip in self.clips.values()]
        extra = tuple(layer for layer in layers if layer is not None)
        return msgspec.structs.replace(plan, layers=plan.layers + extra) if extra else plan

    def on_phrase(self, bar: int, new_phase: bool) -> None:
        """The first bar of a phrase (or of a new phase): the brains from the leading one down, until one decides."""
        for brain in self.brains[self.lead :]:
            if brain.decide(bar, new_phase):
                return

    def on_turn(self, bar: int) -> None:
        """The middle of a phrase: the brains from the leading one down may vary the groove (the first that does
        decides)."""
        for brain in self.brains[self.lead :]:
            if brain.turn(bar):
                return

    # --- steering -------------------------------------------------------------------------------------------------

    def take_steers(self, bar: int, intents: tuple[str, ...]) -> None:
        """Answer the waiting steers of these ``intents`` at ``bar``, in the order they came."""
        due = [s for s in self.steers if s.intent in intents]
        self.steers = [s for s in self.steers if s.intent not in intents]
        for steer in due:
            with self.person_asked():
                intent, action = self.answer_steer(steer, bar)
            self.ctx.emit(ev.SteerActed(intent=intent, action=action, bar=bar, cause=steer.seq))

    def answer_steer(self, steer: ev.Steer, bar: int) -> tuple[str, str]:
        if steer.intent == "hold":
            self.holding = True
            return "hold", "holding the groove: no changes until resume"
        if steer.intent == "resume":
            self.holding = False
            return "resume", "changes resume at the next phrase"
        if steer.intent == "tempo":
            now = self.bpm if self.tempo_goal is None else self.tempo_goal
            return "tempo", self.glide_tempo(steer.value if steer.absolute else now + steer.value)
        if steer.intent == "energy" and steer.absolute:
            self.move_target(steer.value - (self.target - self.bias), limit=1.0)
        elif steer.intent == "energy":
            self.move_target(self.bias + steer.value)
        self.reading = self.read(steer) if steer.intent == "say" else None
        for brain in self.brains[self.lead :]:
            answer = brain.on_steer(steer, bar)
            if answer is not None:
                return answer
        return steer.intent, f"{self.level} makes no changes"

    def read(self, steer: ev.Steer) -> Reading:
        """What a steer's words mean, logged as ``IntentsRead`` before any brain acts on them."""
        reading, lm, fallback = self.words.read(f"intent:{steer.seq}", steer.text)
        self.ctx.emit(
            ev.IntentsRead(
                origin="steer", **_fields(reading), lm=lm, fallback=fallback, bar=self.next_bar, cause=steer.seq
            )
        )
        return reading

    def read_brief(self) -> None:
        """The brief's intents (the LM's reading once it answered) become the profile every brain plays."""
        reading, lm, fallback = self.words.read(BRIEF_REQUEST, self.brief)
        self.brief_reading, self.profile = reading, profile(reading)
        self.ctx.emit(ev.IntentsRead(origin="brief", **_fields(reading), lm=lm, fallback=fallback, bar=self.next_bar))

    def glide_tempo(self, bpm: float) -> str:
        """Move the set's tempo to ``bpm`` (kept within ``tempo_limits``) by ``TEMPO_STEP`` a bar from the next bar
        planned; every output follows the plans (the streamer renders them, Ableton's song tempo is set from them)."""
        lo, hi = self.tempo_limits
        goal = round(min(hi, max(lo, bpm)), 2)
        if goal == (self.bpm if self.tempo_goal is None else self.tempo_goal):
            return f"unchanged: the tempo is {'at' if self.tempo_goal is None else 'gliding to'} {goal:g} BPM already"
        self.tempo_goal = goal
        bars = math.ceil(abs(goal - self.bpm) / TEMPO_STEP)
        clamped = f" (kept within {lo:g}-{hi:g} BPM)" if goal != round(bpm, 2) else ""
        return f"ok: tempo glides from {self.bpm:g} to {goal:g} BPM over {bars} bars{clamped}"

    def shift_tone(self, by: float, word: str) -> str:
        """A performer's "darker" or "brighter" leans every later move of every brain, as a darker or brighter
        brief would (the brief's tone, moved by ``by`` within -1..1)."""
        brightness = round(max(-1.0, min(1.0, self.tone.brightness + by)), 3)
        tone = msgspec.structs.replace(self.tone, brightness=brightness, words=(*self.tone.words, word))
        self.profile = msgspec.structs.replace(self.profile, tone=tone)
        return f"tone {brightness:+.2f} from now on"

    def shift_profile(self, cap_shift: int = 0, variation: float = 0.0) -> str:
        """A performer's "denser"/"sparser" or "more hypnotic"/"more variation" holds for the rest of the set, as
        the same words in the brief would."""
        shift = max(-4, min(3, self.profile.cap_shift + cap_shift))
        varies = round(max(-1.0, min(1.0, self.profile.variation + variation)), 3)
        self.profile = msgspec.structs.replace(self.profile, cap_shift=shift, variation=varies)
        self.cap = self.shaped(self.next_bar)[2] if self.phase != "outro" else self.cap
        return f"layers {shift:+d}, variation {varies:+.2f} from now on"

    def move_target(self, bias: float, limit: float = MAX_BIAS) -> None:
        """Move the energy target off the arc by ``bias`` (within ``limit``), from now on."""
        arc_target = self.target - self.bias
        self.bias = round(min(limit, max(-limit, bias)), 4)
        self.target = round(min(1.0, max(0.05, arc_target + self.bias)), 4)

    def heard(self) -> list[str]:
        """The performer's words not yet passed on to an LM (each goes into one prompt)."""
        words = list(self.said)
        self.said.clear()
        return words

    @contextlib.contextmanager
    def person_asked(self) -> Iterator[None]:
        """Moves made inside happen even while holding: a person asked for them (or a breakdown ends)."""
        self._asked = True
        try:
            yield
        finally:
            self._asked = False

    # --- the end --------------------------------------------------------------------------------------------------

    def wind_down(self, bar: int) -> None:
        """The outro after ``stop``: energy falls toward silence and a layer leaves at each steer-grid line, the
        least essential first, until the last bar; every chain of brains ends a set this way."""
        if self.phase != "outro":
            self.phase, self.cap = "outro", min(self.cap, len(OUTRO_KEEP))
            self.ctx.emit(ev.PhaseChanged(phase="outro", target_energy=self.mixer.energy(), bar=bar))
        waiting, self.steers = self.steers, []
        for steer in waiting:  # answered all the same: nobody is left waiting on the display
            no_change = "the set is winding down: no change"
            self.ctx.emit(ev.SteerActed(intent=steer.intent, action=no_change, bar=bar, cause=steer.seq))
        left = max(self.end - bar, 1)
        self.target = round(self.mixer.energy() * (left - 1) / left, 4)
        if bar != self.outro_from and (self.end - bar) % STEER_GRID != 0:
            return
        audible = self.mixer.audible()
        steps = max(1, -(-left // STEER_GRID))
        leaving = -(-(len(audible) - 1) // steps) if len(audible) > 1 else 0
        for channel in sorted(audible, key=lambda c: (_keep_rank(c.role), c.role))[:leaving]:
            self.move("remove", channel.role, bar)
        if left <= STEER_GRID:
            for channel in self.mixer.audible():
                self.move("fader", channel.role, bar, gain=round(max(0.1, channel.gain * 0.6), 3))

    # --- moves ----------------------------------------------------------------------------------------------------

    def move(self, name: str, role: str, bar: int, /, cause: int = -1, **args: Any) -> str:
        """Apply one move to the mixer through the guardrails and log it. Returns the guardrails' verdict; a move
        that changes nothing audible answers ``unchanged: ...`` (it is not a move, and answers no directive)."""
        mixer = self.mixer
        before = dict(mixer.channels)
        if self.holding and not self._asked:
            result = "refused: holding the groove (resume to change it)"
        elif name == "add":
            asked = args.get("gain", 0.6)
            gain = self.tone.gain(role, asked) if isinstance(asked, int | float) and asked > 0 else asked
            if gain != asked:  # the log says what was asked and what the brief made of it
                args = {**args, "brief": f"{self.tone.describe()}: gain {asked:g} → {gain:g}"}
            rand = self.ctx.rng(bar, f"add:{role}")
            result = mixer.add(role, bar, self.cap, gain, args.get("pattern", ""), rand)
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
        if not result.startswith("refused") and _same(before, mixer.channels):
            result = f"unchanged: {role or name} already sounds like that"
        self.ctx.emit(ev.MixerMove(move=name, role=role, args=args, result=result, bar=bar, cause=cause))
        self.recent.append(f"bar {bar}: {name} {role} {' '.join(f'{k}={v}' for k, v in args.items())} → {result}")
        return result

    def breakdown(self, bar: int, bars: int) -> str:
        """Mute everything but the breakdown layers for ``bars`` bars, then bring them back."""
        drop = [c.role for c in self.mixer.audible() if c.role not in BREAKDOWN_KEEP]
        if not drop:
            return "refused: nothing to drop"
        carried = ""
        if len(drop) == len(self.mixer.audible()):  # an earlier steer took the keepers out: a pad carries it
            carried = self.carrier(bar)
            if not carried:
                return f"refused: nothing would keep playing (a breakdown keeps {', '.join(sorted(BREAKDOWN_KEEP))})"
        for role in drop:
            self.mixer.mute(role)
        self.restore_at, self.restore = bar + max(1, bars), drop
        return f"ok: {carried}dropped {', '.join(drop)} until bar {self.restore_at}"

    def carrier(self, bar: int) -> str:
        """Bring in a layer a breakdown keeps, past the density cap (the breakdown is about to thin the mix), the
        pad first; what was said, or "" when the pack has none that can come in."""
        for role in CARRIERS:
            rand = self.ctx.rng(bar, f"add:{role}")
            if self.mixer.add(role, bar, len(self.mixer.audible()) + 1, self.tone.gain(role, 0.5), "", rand) == "ok":
                return f"{role} in to carry it, "
        return ""

    def fit_cap(self, bar: int) -> None:
        """A new phase may allow fewer layers than are playing: keep the kick and the loudest others."""
        audible = sorted(self.mixer.audible(), key=lambda c: (c.role != "kick", -c.gain, c.role))
        for channel in audible[self.cap :]:
            self.move("remove", channel.role, bar)

    def acted(self, directive: ev.Directive, action: str, bar: int) -> None:
        self.ctx.emit(ev.DirectiveActed(directive=directive.kind, action=action, bar=bar, cause=directive.seq))


def _fields(reading: Reading) -> dict[str, Any]:
    return {"text": reading.text, "intents": reading.intents, "method": reading.method}


def tempo_limits(bpm: float) -> tuple[float, float]:
    """The tempos a set at ``bpm`` may glide to (``TEMPO_SPAN`` either side)."""
    return round(bpm * (1 - TEMPO_SPAN), 2), round(bpm * (1 + TEMPO_SPAN), 2)


def _keep_rank(role: str) -> int:
    """Lower leaves an outro sooner."""
    return -OUTRO_KEEP.index(role) if role in OUTRO_KEEP else -len(OUTRO_KEEP)


def _same(before: dict[str, Channel], after: dict[str, Channel]) -> bool:
    """Whether the audible result is the same: a fader at its current gain, a pattern already playing..."""
    return before == after


def _brain(name: str) -> type[Brain]:
    module, _, attr = BRAINS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
