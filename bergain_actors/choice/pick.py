"""From the log-probabilities of a ballot's labels to a distribution over its options, and a seeded pick. Pure.

Per prompt: the labels' probabilities renormalised over the labels alone (a model also likes "The" or "You"); a
label the provider did not list gets the lowest listed log-probability less ``UNLISTED``. With a content-free
prompt, each position's probability is divided by the model's probability for that label with no content
(contextual calibration, Zhao et al. 2021) and renormalised. Positions map back to options through the ballot's
orders, and the orders are averaged: ``raw`` without calibration, ``calibrated`` with it. ``pick`` samples the
calibrated distribution sharpened by ``temperature`` (0: the most likely option, the first of equals) with the
caller's seeded RNG, so the same answers always give the same choice.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from bergain_actors.choice.ballot import Ballot
from bergain_actors.core import events as ev

UNLISTED = 1.0
"""How far below the lowest listed log-probability a label the provider did not list is put."""
DIGITS = 6

Method = Literal["scored", "cloze", "constrained", "none"]


class Choice(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the LM chose and why: log it in the decision event, replay re-derives it from the answer."""

    index: int
    """Into ``Ballot.options``; -1 when nothing could be read from the answer (``method = "none"``)."""
    option: str
    method: Method
    """``scored``: from label probabilities; ``cloze``: from the options' own words (``choice.cloze``);
    ``constrained``: the provider only answered a label; ``none``: neither."""
    raw: tuple[float, ...] = ()
    """Per option, the orders averaged, before calibration."""
    calibrated: tuple[float, ...] = ()
    """Per option, with the content-free bias divided out (the distribution ``pick`` draws from)."""
    prior: tuple[float, ...] = ()
    """Per label (cloze: per option), the model's probability for it with no content (empty without
    calibration)."""
    temperature: float = 0.0
    draw: float = -1.0
    """The seeded number the pick used (-1: none was drawn)."""
    provider: str = ""

    def logged(self) -> dict[str, Any]:
        """The choice as it goes into a decision event: plain lists and numbers, as the log gives them back (a
        tuple would compare unequal to the logged list in ``replay --verify``)."""
        return msgspec.json.decode(msgspec.json.encode(self))


def _label_probs(scores: Mapping[str, float], labels: Sequence[str]) -> list[float] | None:
    listed = [scores[label] for label in labels if label in scores]
    if not listed:
        return None
    floor = min(listed) - UNLISTED
    logs = [scores.get(label, floor) for label in labels]
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]
    total = sum(weights)
    return [w / total for w in weights]


def _normalised(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else [1 / len(weights)] * len(weights)


def prior_of(b: Ballot, answer: ev.LMResponse) -> tuple[float, ...]:
    """The model's probability for each label with no content, from a calibrating ballot's answer (else empty).
    It depends only on the template and the number of options, so a caller may keep it for later ballots of that
    size and leave their content-free prompt out (``ballot(..., calibrate=False)``, ``decide(..., prior=...)``)."""
    if not b.calibrate or len(answer.scores) <= len(b.orders):
        return ()
    return _rounded(_label_probs(answer.scores[len(b.orders)], b.labels) or ())


def distributions(
    b: Ballot, scores: Sequence[Mapping[str, float]], prior: Sequence[float] = ()
) -> tuple[list[float], list[float], list[float]] | None:
    """(raw, calibrated, prior) from per-prompt label log-probabilities (the prior from the ballot's content-free
    prompt, else ``prior`` as given), or None if they hold no label."""
    ordered = [_label_probs(s, b.labels) for s in scores[: len(b.orders)]]
    if len(ordered) < len(b.orders) or any(p is None for p in ordered):
        return None
    prior = list(prior) if len(prior) == len(b.labels) else []
    if b.calibrate and len(scores) > len(b.orders):
        prior = _label_probs(scores[len(b.orders)], b.labels) or []
    count = len(b.options)
    raw, calibrated = [0.0] * count, [0.0] * count
    for order, probs in zip(b.orders, ordered, strict=True):
        assert probs is not None
        fixed = _normalised([p / q for p, q in zip(probs, prior, strict=True)]) if prior else probs
        for position, option in enumerate(order):
            raw[option] += probs[position] / len(b.orders)
            calibrated[option] += fixed[position] / len(b.orders)
    return raw, calibrated, prior


def pick(probs: Sequence[float], temperature: float, rng: random.Random) -> tuple[int, float]:
    """(index, draw): the most likely at temperature 0 (draw -1), else a draw from ``probs`` ** (1/temperature)."""
    if temperature <= 0:
        return max(range(len(probs)), key=lambda i: (probs[i], -i)), -1.0
    logs = [math.log(max(p, 1e-300)) / temperature for p in probs]
    top = max(logs)
    weights = _normalised([math.exp(x - top) for x in logs])
    draw = rng.random()
    total = 0.0
    for index, weight in enumerate(weights):
        total += weight
        if draw < total:
            return index, round(draw, DIGITS)
    return len(weights) - 1, round(draw, DIGITS)


def _rounded(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(round(v, DIGITS) for v in values)


def chosen(
    options: Sequence[str],
    found: tuple[Sequence[float], Sequence[float], Sequence[float]],
    method: Method,
    temperature: float,
    rng: random.Random,
    provider: str,
) -> Choice:
    """The seeded pick from (raw, calibrated, prior) distributions, as the ``Choice`` that logs them."""
    raw, calibrated, prior = found
    index, draw = pick(calibrated, temperature, rng)
    return Choice(
        index=index,
        option=options[index],
        method=method,
        raw=_rounded(raw),
        calibrated=_rounded(calibrated),
        prior=_rounded(prior),
        temperature=temperature,
        draw=draw,
        provider=provider,
    )


def label_in(text: str, labels: Sequence[str]) -> str | None:
    """The first of ``labels`` that ``text`` names as a word of its own (a constrained answer), or None."""
    return next((word for word in re.findall(r"\b\w\b", text) if word in labels), None)


def decide(
    b: Ballot, answer: ev.LMResponse, temperature: float, rng: random.Random, prior: Sequence[float] = ()
) -> Choice:
    """The choice ``answer`` makes on ``b``: scored when it holds probabilities, else its label as constrained.
    ``prior``: a content-free prior kept from an earlier ballot of the same size (``prior_of``), for a ballot that
    was not calibrated itself."""
    found = distributions(b, answer.scores, prior) if answer.scores else None
    if found is not None:
        return chosen(b.options, found, "scored", temperature, rng, answer.provider)
    label = label_in(answer.text, b.labels)
    if label is None:
        return Choice(index=-1, option="", method="none", temperature=temperature, provider=answer.provider)
    index = b.orders[0][b.labels.index(label)]
    return Choice(
        index=index, option=b.options[index], method="constrained", temperature=temperature, provider=answer.provider
    )
