"""The phrase brain's menu: a few moves that code has already made valid for this moment, best first.

A small LM cannot be trusted with the whole mixer, but it can pick from a short numbered list. Every option here
has been tried on a copy of the mixer (the guardrails accept it and it changes something audible: a no-op is not
an option), passes the phase's gates, and is scored toward the arc's energy, the Critic's directives and the
brief. Pure: no I/O, no clock; the dice come in as an argument.

Gates by phase: the breakdown is the arc's (it comes where the arc has one, never as a choice); the kick is never
taken away nor moved off the four, off-beat hats never leave the intro, the build and the peaks; outside a phase's first
phrase no option moves the energy by more than ``MAX_JUMP``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import msgspec

from bergain_actors.actors.conductor.brief import BRIGHTNESS, Tone
from bergain_actors.music import arc
from bergain_actors.music.mixer import Mixer
from bergain_actors.music.plan import TICKS_PER_BEAT
from bergain_actors.music.texture import Texture

SIZE = 6
"""Options offered: short enough for a 135M model to read, long enough to give it a choice."""

MAX_JUMP = 0.15
"""The largest energy step one phrase may take inside a phase."""

GROOVE_PHASES = frozenset({"intro", "build", "peak", "peak2"})
LOW_END = frozenset({"kick", "bassline", "bass", "drum_loop"})
"""What the breakdown takes away and only the drop brings back."""
"""Where the off-beat hats stay (with the kick they are the groove)."""
FADER_STEP = 0.1
NOVELTY = 0.6
"""Score for a move that makes a mix not heard yet in this set."""
BRIEF_WEIGHT = 0.4
"""How much the brief's leaning (-1..1 per role) weighs against the arc and variety."""

PREFERRED_GAIN = {
    "kick": 0.9,
    "hihat": 0.57,
    "bassline": 0.67,
    "bass": 0.6,
    "perc": 0.42,
    "texture": 0.38,
    "clap": 0.47,
    "snare": 0.45,
    "synth": 0.4,
    "ride": 0.45,
    "drum_loop": 0.5,
    "fx": 0.4,
}

VARIATIONS = {
    "hihat": ("offbeat_8ths", "straight_8ths", "offbeat_16ths", "sixteenths"),
    "perc": ("syncopated_a", "syncopated_b", "gallop", "sparse_accent", "tresillo", "rolling"),
    "clap": ("backbeat", "sparse_accent", "push"),
    "snare": ("backbeat", "sparse_accent", "push"),
    "ride": ("straight_8ths", "offbeat_8ths"),
    "bass": ("offbeat_8ths", "gallop", "tresillo", "dotted_8ths"),
    "synth": ("sparse_accent", "tresillo", "dotted_8ths", "push"),
    "fx": ("downbeat", "sparse_accent"),
}
"""Patterns worth offering per role (the kick keeps four on the floor: it is not on the menu)."""


class Option(msgspec.Struct, frozen=True):
    """One move the LM may choose: what it does, in words, and what it does to the set."""

    move: str
    role: str
    args: dict[str, Any]
    label: str
    energy: float
    """The mix's energy after the move."""
    answers: tuple[str, ...] = ()
    """Directive kinds this move answers."""


class Moment(msgspec.Struct, frozen=True):
    """Where the set is when the menu is built."""

    bar: int
    phase: str
    target: float
    cap: int
    total: int
    phrase_start: bool = False
    """The first phrase of a new phase: bigger steps are allowed."""
    directives: tuple[str, ...] = ()
    recent_roles: tuple[str, ...] = ()
    """Roles moved lately, latest last (variety: they are offered later)."""


def trial(mixer: Mixer) -> Mixer:
    """A copy of the mixer to try moves on."""
    copy = Mixer(mixer.menu, mixer.beats_per_bar)
    copy.channels = dict(mixer.channels)
    return copy


def attempt(mixer: Mixer, option: Option, cap: int, tone: Tone) -> Mixer | None:
    """The mixer after ``option``, or None if the guardrails refuse it or it changes nothing audible."""
    copy = trial(mixer)
    args = option.args
    if option.move == "add":
        verdict = copy.add(option.role, 0, cap, tone.gain(option.role, args["gain"]), args.get("pattern", ""))
    elif option.move == "remove":
        channel = copy.channels.get(option.role)
        if channel is not None and channel.muted:
            return None  # taking out what is silent changes nothing audible
        verdict = copy.remove(option.role)
    elif option.move == "fader":
        verdict = copy.fader(option.role, args["gain"])
    elif option.move == "pattern":
        verdict = copy.pattern(option.role, args["name"])
    elif option.move in ("mute", "unmute"):
        verdict = copy.mute(option.role, option.move == "mute")
    elif option.move == "swap":
        verdict = copy.swap(option.role, 0, args.get("choice"))
    else:
        return None
    if verdict.startswith("refused") or copy.channels == mixer.channels:
        return None
    return copy


def build(
    mixer: Mixer, moment: Moment, tone: Tone, rand: random.Random, heard: frozenset[Texture] = frozenset()
) -> list[Option]:
    """The menu: at most ``SIZE`` valid options for ``moment``, best first (a mix not ``heard`` yet scores
    higher: variety)."""
    now = mixer.energy()
    scored: list[tuple[float, int, Option]] = []
    for index, option in enumerate(_candidates(mixer)):
        after = _judge(mixer, option, moment, tone)
        if after is None:
            continue
        energy = after.energy()
        option = msgspec.structs.replace(option, energy=round(energy, 3), answers=_answers(option, energy - now))
        fresh = NOVELTY if after.texture() not in heard else 0.0
        scored.append((_score(option, now, moment, tone, rand) + fresh, index, option))
    scored.sort(key=lambda item: (-item[0], item[1]))
    menu: list[Option] = []
    for _, _, option in scored:
        if option.move == "swap" and any(o.move == "swap" and o.role == option.role for o in menu):
            continue  # one sample swap per role: the menu offers moves, not the whole crate
        menu.append(option)
    return menu[:SIZE]


def valid(mixer: Mixer, option: Option, moment: Moment, tone: Tone) -> bool:
    """Whether ``option`` still applies to ``mixer`` now."""
    return _judge(mixer, option, moment, tone) is not None


def _judge(mixer: Mixer, option: Option, moment: Moment, tone: Tone) -> Mixer | None:
    """The mix after ``option``, or None if it is refused, a no-op, gated by the phase or too big a jump."""
    after = attempt(mixer, option, moment.cap, tone)
    if after is None or not _allowed(option, after, moment):
        return None
    if abs(after.energy() - mixer.energy()) > MAX_JUMP and not moment.phrase_start:
        return None
    return after


def _candidates(mixer: Mixer) -> list[Option]:
    out: list[Option] = []
    for role in sorted(mixer.menu):
        channel = mixer.channels.get(role)
        if channel is None:
            gain = PREFERRED_GAIN.get(role, 0.5)
            out.append(Option("add", role, {"gain": gain}, f"add {role}", 0.0))
            continue
        if channel.muted:
            out.append(Option("unmute", role, {}, f"bring {role} back", 0.0))
            continue
        out.append(Option("remove", role, {}, f"take {role} out", 0.0))
        for step, word in ((FADER_STEP, "up"), (-FADER_STEP, "down")):
            gain = round(min(arc.gain_cap(role), max(0.1, channel.gain + step)), 3)
            if gain != channel.gain:
                out.append(Option("fader", role, {"gain": gain}, f"{role} {word} to {gain:.2f}", 0.0))
        if channel.kind == "hit":
            for name in VARIATIONS.get(role, ()):
                if name != channel.pattern:
                    out.append(Option("pattern", role, {"name": name}, f"{role} plays {name}", 0.0))
        for choice, sample in enumerate(mixer.menu[role]):
            if sample.id != channel.sample:
                out.append(Option("swap", role, {"choice": choice}, f"another {role} sample ({choice})", 0.0))
    return out


def _allowed(option: Option, after: Mixer, moment: Moment) -> bool:
    """The phase's gates: what may never be taken away here (the breakdown itself is the arc's, not a choice)."""
    taking = option.move in ("remove", "mute")
    if option.role == "kick" and (taking or option.move == "pattern"):
        return False  # the kick leaves only with the breakdown, and keeps four on the floor
    if moment.phase == "breakdown" and option.role in LOW_END and option.move in ("unmute", "add"):
        return False  # the breakdown breathes until the drop
    if option.role == "hihat" and moment.phase in GROOVE_PHASES:
        if taking:
            return False
        hats = after.channels.get("hihat")
        if hats is not None and not _offbeat(hats.hits):
            return False
    return True


def _offbeat(hits: Sequence[int]) -> bool:
    """Whether a rhythm sits on the off-beat eighths: the hats that make the groove."""
    half = TICKS_PER_BEAT // 2
    return any(t % TICKS_PER_BEAT == half for t in hits)


def _answers(option: Option, delta: float) -> tuple[str, ...]:
    kinds = ["vary"]
    if delta > 0.005:
        kinds.append("energy_up")
    if delta < -0.005:
        kinds += ["energy_down", "quieter"]
    if option.move == "remove":
        kinds.append("less_dense")
    if option.move in ("add", "unmute"):
        kinds.append("more_dense")
        if option.role == "kick":
            kinds.append("add_kick")
    brightening = BRIGHTNESS.get(option.role, 0.0) * (-1 if option.move == "remove" or delta < 0 else 1)
    if option.move in ("add", "unmute", "remove", "fader") and brightening:
        kinds.append("brighter" if brightening > 0 else "darker")
    return tuple(kinds)


def _score(option: Option, now: float, moment: Moment, tone: Tone, rand: random.Random) -> float:
    """Higher is better: toward the arc's energy, answering the Critic, in the brief's colour, and fresh."""
    before, after = abs(now - moment.target), abs(option.energy - moment.target)
    score = 4.0 * (before - after)
    if any(kind in option.answers for kind in moment.directives if kind != "vary"):
        score += 2.0
    if option.move in ("add", "unmute", "fader") and option.energy >= now:
        score += BRIEF_WEIGHT * tone.lean(option.role)
    elif option.move in ("remove",):
        score -= BRIEF_WEIGHT * tone.lean(option.role)
    if option.move == "fader":
        score -= 0.2  # a level is the subtlest change: offered, but after the ones that change what plays
    if option.role in moment.recent_roles:
        score -= 0.5 if option.role in moment.recent_roles[-2:] else 0.25
    if option.move in ("pattern", "swap"):
        score += 0.15  # colour without moving the energy: welcome when the energy is right
    return score + rand.random() * 0.3
