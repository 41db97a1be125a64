"""A cloze choice: each option's own text scored as the continuation of an answer, no labels at all. Pure.

A 135M model cannot bind an answer label to its option (it answers a position), but the likelihood it gives an
option's words after the context does depend on the context. A raw likelihood mostly measures how common the
words are (short, frequent phrases win: "surface form competition"), so each option's log-likelihood after the
context is compared with its log-likelihood after a domain premise, the same template with no content: the
domain-conditional PMI of Holtzman et al. 2021. ``raw`` is the softmax of the log-likelihoods, ``calibrated`` that
of the PMI, ``prior`` that of the premise's. Only llama.cpp's server can score a given text (``LocalProvider``);
other providers refuse it and the router asks the next one.

Use: ``c = cloze(...)``; emit ``request(c, ...)``; on its ``LMResponse``, ``decide(c, response, temperature, rng)``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import msgspec

from bergain_actors.choice.pick import Choice, chosen
from bergain_actors.core import events as ev

PREMISE = "N/A"
"""The content of the domain premise: the template with nothing in it."""


class Cloze(msgspec.Struct, frozen=True):
    """One cloze choice as it was put to the LM (keep it until the answer comes)."""

    options: tuple[str, ...]
    """The options as the caller gave them (``Choice.index`` points into this)."""
    texts: tuple[str, ...]
    """Per option, the words scored as the answer's continuation (a leading space joins them to ``answer``)."""
    system: str
    context: str
    question: str
    answer: str
    """The start of the answer the texts continue."""
    premise: str = PREMISE
    """The context of the domain premise: the template's own words with no content."""


def cloze(
    options: Sequence[str],
    texts: Sequence[str],
    *,
    system: str,
    context: str,
    question: str,
    answer: str,
    premise: str = PREMISE,
) -> Cloze:
    if not options or len(options) != len(texts):
        raise ValueError(f"a cloze needs one text per option, not {len(texts)} for {len(options)}")
    return Cloze(tuple(options), tuple(texts), system, context, question, answer, premise)


def prompts(c: Cloze) -> tuple[tuple[dict[str, str], ...], tuple[dict[str, str], ...]]:
    """The message lists: the context's, then the domain premise's (the same with no content)."""

    def messages(context: str) -> tuple[dict[str, str], ...]:
        return (
            {"role": "system", "content": c.system},
            {"role": "user", "content": f"{context.strip()}\n{c.question.strip()}"},
            {"role": "assistant", "content": c.answer},
        )

    return messages(c.context), messages(c.premise)


def request(
    c: Cloze, *, request_id: str, purpose: str, model: str = "", deadline_bar: int = -1, bar: int = 0,
    best_effort: bool = False,
) -> ev.LMRequest:  # fmt: skip
    """The ``LMRequest`` that scores every text after the context and after the premise."""
    context, premise = prompts(c)
    return ev.LMRequest(
        request_id=request_id,
        purpose=purpose,
        messages=context,
        variants=(premise,),
        continuations=c.texts,
        model=model,
        max_tokens=1,
        temperature=0.0,
        deadline_bar=deadline_bar,
        best_effort=best_effort,
        bar=bar,
    )


def _softmax(logs: Sequence[float]) -> list[float]:
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]
    total = sum(weights)
    return [w / total for w in weights]


def distributions(
    c: Cloze, scores: Sequence[Mapping[str, float]]
) -> tuple[list[float], list[float], list[float]] | None:
    """(raw, calibrated by PMI, premise) over the options, or None if the scores miss a text."""
    if len(scores) < 2 or any(text not in s for text in c.texts for s in scores[:2]):
        return None
    after = [scores[0][text] for text in c.texts]
    premise = [scores[1][text] for text in c.texts]
    return _softmax(after), _softmax([a - p for a, p in zip(after, premise, strict=True)]), _softmax(premise)


def decide(c: Cloze, answer: ev.LMResponse, temperature: float, rng: random.Random) -> Choice:
    """The choice ``answer`` makes on ``c`` (``method = "cloze"``), or ``method = "none"`` without its scores."""
    found = distributions(c, answer.scores)
    if found is None:
        return Choice(index=-1, option="", method="none", temperature=temperature, provider=answer.provider)
    return chosen(c.options, found, "cloze", temperature, rng, answer.provider)
