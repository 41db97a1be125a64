"""Words → intents by the LM: a calibrated choice (``bergain_actors.choice``) over the intents code proposes.

``lexical`` (code) proposes the candidates; with two or more, the LM chooses among them and the reading's
probabilities are the code's and the LM's calibrated ones multiplied; with none, the LM chooses among the whole
vocabulary and ``NOTHING``, its pick standing only when ``SURE``; with one there is nothing to choose.
``bench/bench_intents.py`` measures each way against the keyword baseline. Pure: the ballot goes out as an
``LMRequest``, its answer comes back as the reading.
"""

from __future__ import annotations

import random

from bergain_actors import choice
from bergain_actors.core import events as ev
from bergain_actors.music.intents import GLOSS, KINDS, IntentKind, Reading, lexical, weighted

SYSTEM = (
    "You help a techno DJ during a live set. A performer typed some words about the music. "
    "Choose what the words ask the music to do."
)
QUESTION = "What do these words ask the music to do?"

CLOZE_SYSTEM = "You help a techno DJ during a live set."
CLOZE_QUESTION = "What do they want the music to do?"
CLOZE_ANSWER = "They want the music to"
CLOZE: dict[IntentKind, str] = {
    "darker": " get darker",
    "brighter": " get brighter",
    "denser": " get fuller, with more layers",
    "sparser": " get sparser, with fewer layers",
    "energy_up": " have more energy",
    "energy_down": " have less energy",
    "tension": " build tension",
    "drop": " drop",
    "breakdown": " break down",
    "hypnotic": " be more hypnotic and repetitive",
    "vary": " change, with more variation",
    "bring_in": " bring an instrument in",
    "mute": " take an instrument out",
    "faster": " speed up",
    "slower": " slow down",
}
"""Each intent as the words that finish ``CLOZE_ANSWER`` (the cloze choice scores these, not labels)."""

NOTHING = "nothing: the words ask for no change (talk, thanks, a greeting)"
"""The option a ballot over the whole vocabulary adds: words code finds nothing in often ask nothing, and without
it the LM must name some intent (the embedded model read "thanks" as more tension)."""

SURE = 0.5
"""Over the whole vocabulary, the calibrated probability the LM's pick needs to stand: below it the words read as
nothing (the embedded model gives its favourite about 0.27 for "thanks", "asdfgh" and "more tenshun" alike)."""

MAX_CANDIDATES = 5
LEXICAL_WEIGHT = 1.0
"""Exponent of the code's probability in the product with the LM's (0: the LM alone among the candidates)."""


def candidates(text: str) -> tuple[Reading, tuple[IntentKind, ...]]:
    """The code's reading, and the kinds the LM is asked to choose among (empty: the code's reading stands)."""
    lex = lexical(text)
    kinds = tuple(i.kind for i in lex.intents[:MAX_CANDIDATES])
    if len(kinds) == 1:
        return lex, ()
    return lex, kinds or KINDS


def options(kinds: tuple[IntentKind, ...]) -> tuple[str, ...]:
    """The names of the ballot's options for ``kinds``, as the decision is logged."""
    return (*kinds, "nothing") if kinds == KINDS else kinds


def ballot(
    text: str, kinds: tuple[IntentKind, ...], rng: random.Random, calibrate: bool = True, abstain: bool = True
) -> choice.Ballot:
    """``abstain``: offer ``NOTHING`` beside the whole vocabulary (the benchmark's pure LM reading goes without)."""
    return choice.ballot(
        [GLOSS[kind] for kind in kinds] + ([NOTHING] if abstain and kinds == KINDS else []),
        system=SYSTEM,
        context=f'The performer typed: "{text}"',
        question=QUESTION,
        rng=rng,
        orders=2 if calibrate else 1,
        calibrate=calibrate,
    )


def cloze(text: str, kinds: tuple[IntentKind, ...] = KINDS) -> choice.cloze.Cloze:
    """The cloze choice among ``kinds``: each one's words after the performer's, against the same after a
    performer's words left out (the domain premise)."""
    return choice.cloze.cloze(
        kinds,
        [CLOZE[kind] for kind in kinds],
        system=CLOZE_SYSTEM,
        context=f'A performer typed: "{text}"',
        question=CLOZE_QUESTION,
        answer=CLOZE_ANSWER,
        premise='A performer typed: "..."',
    )


def combine(lex: Reading, kinds: tuple[IntentKind, ...], picked: choice.Choice) -> Reading:
    """The reading from the LM's choice: its calibrated probabilities times the code's (when the code proposed
    the candidates), renormalised; the code's own when it chose ``NOTHING`` or, over the whole vocabulary, was
    not ``SURE``."""
    if picked.index == len(kinds) or (kinds == KINDS and picked.calibrated and max(picked.calibrated) < SURE):
        return lex
    if picked.method not in ("scored", "cloze"):
        return lex if picked.index < 0 else weighted(lex, {kinds[picked.index]: 1.0}, "lm")
    code = {i.kind: i.p for i in lex.intents}
    probs = {
        kind: p * (code[kind] ** LEXICAL_WEIGHT if kind in code else 1.0)
        for kind, p in zip(kinds, picked.calibrated[: len(kinds)], strict=True)
    }
    return weighted(lex, probs, "lm")


def read(text: str, kinds: tuple[IntentKind, ...], b: choice.Ballot, answer: ev.LMResponse | ev.LMFailed) -> Reading:
    """The reading an answer to ``b`` gives (the code's own when it failed or held nothing readable)."""
    lex = lexical(text)
    if isinstance(answer, ev.LMFailed):
        return lex
    picked = choice.decide(b, answer, 0.0, random.Random(0))
    return combine(lex, kinds, picked)
