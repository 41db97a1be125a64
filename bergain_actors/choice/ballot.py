"""A ballot: the options of one choice, the orders they are shown in, and the prompts that show them. Pure.

Each option gets a one-token label ("1".."9", then "A".."Z" for longer lists). The first order is the caller's,
the second its reverse (each option then sits once near the top and once near the bottom), further ones are
seeded shuffles. With ``calibrate`` a last prompt shows the same template with no content ("N/A" everywhere): what
the model answers to it is its bias for each label, divided out in ``pick``. No prompt holds an example answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import msgspec

from bergain_actors.core import events as ev

LABELS = tuple("123456789")
LONG_LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
"""Single tokens for every tokenizer we met (SmolLM2's, OpenAI's): a digit or a capital letter."""

CONTENT_FREE = "N/A"
ANSWER_TOKENS = 1


class Ballot(msgspec.Struct, frozen=True):
    """One choice as it was put to the LM: enough to read its answer back (keep it until the answer comes)."""

    options: tuple[str, ...]
    """The options as the caller gave them (``Choice.index`` points into this)."""
    orders: tuple[tuple[int, ...], ...]
    """Per prompt shown: the option index at each position."""
    labels: tuple[str, ...]
    system: str
    context: str
    question: str
    calibrate: bool = True
    """Whether a content-free prompt follows the ordered ones."""


def labels_for(count: int) -> tuple[str, ...]:
    if count <= len(LABELS):
        return LABELS[:count]
    if count <= len(LONG_LABELS):
        return LONG_LABELS[:count]
    raise ValueError(f"a ballot holds at most {len(LONG_LABELS)} options, not {count}")


def ballot(
    options: Sequence[str],
    *,
    system: str,
    context: str,
    question: str,
    rng: random.Random,
    orders: int = 2,
    calibrate: bool = True,
) -> Ballot:
    """The ballot for ``options`` (at least one) shown in ``orders`` orders (1: only as given)."""
    if not options:
        raise ValueError("a ballot needs at least one option")
    count = len(options)
    shown: list[tuple[int, ...]] = [tuple(range(count))]
    if orders > 1 and count > 1:
        shown.append(tuple(reversed(range(count))))
    while len(shown) < orders and count > 2:
        order = list(range(count))
        rng.shuffle(order)
        shown.append(tuple(order))
    return Ballot(tuple(options), tuple(shown), labels_for(count), system, context, question, calibrate)


def user_text(context: str, question: str, options: Sequence[str], labels: Sequence[str]) -> str:
    lines = [context.strip(), "", question.strip()] if context.strip() else [question.strip()]
    lines += [f"{label}. {option}" for label, option in zip(labels, options, strict=True)]
    kind = "number" if labels[0].isdigit() else "letter"
    lines.append(f"Answer with the {kind} of one option only.")
    return "\n".join(lines)


def prompts(b: Ballot) -> tuple[tuple[dict[str, str], ...], ...]:
    """The message lists put to the LM: one per order, then the content-free one."""
    out = []
    for order in b.orders:
        text = user_text(b.context, b.question, [b.options[i] for i in order], b.labels)
        out.append(({"role": "system", "content": b.system}, {"role": "user", "content": text}))
    if b.calibrate:
        blank = [CONTENT_FREE] * len(b.options)
        text = user_text(CONTENT_FREE, b.question, blank, b.labels)
        out.append(({"role": "system", "content": b.system}, {"role": "user", "content": text}))
    return tuple(out)


def grammar(labels: Sequence[str]) -> str:
    """A llama.cpp GBNF grammar allowing exactly one label (the constrained answer of a provider without
    probabilities)."""
    return "root ::= " + " | ".join(f'"{label}"' for label in labels)


def request(
    b: Ballot,
    *,
    request_id: str,
    purpose: str,
    model: str = "",
    deadline_bar: int = -1,
    bar: int = 0,
    best_effort: bool = False,
) -> ev.LMRequest:
    """The ``LMRequest`` that scores ``b``: its labels' log-probabilities as the next token of every prompt."""
    first, *rest = prompts(b)
    return ev.LMRequest(
        request_id=request_id,
        purpose=purpose,
        messages=first,
        variants=tuple(rest),
        score=b.labels,
        grammar=grammar(b.labels),
        model=model,
        max_tokens=ANSWER_TOKENS,
        temperature=0.0,
        deadline_bar=deadline_bar,
        best_effort=best_effort,
        bar=bar,
    )
