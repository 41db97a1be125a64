"""The phrase brain's contract with a small LM: pick one numbered move from a menu, and say where the energy goes.

The menu (``menu.py``) holds only moves that code has already made valid for this moment, so the answer has two
small fields: ``{"move": N, "energy": "up" | "hold" | "down"}``. On the embedded llama.cpp server a GBNF grammar
allows exactly the menu's numbers and the three intents (about 20 tokens: a decision well inside one bar); other
providers get the same as a JSON schema. ``parse`` still checks everything, because a provider may ignore both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bergain_actors.actors.conductor.menu import Option

INTENTS = ("up", "hold", "down")


class InvalidDecision(ValueError):
    """The answer cannot be read as a decision at all (not JSON, not an object)."""


def schema(count: int) -> dict[str, Any]:
    """The response schema for a menu of ``count`` options."""
    return {
        "type": "object",
        "properties": {
            "move": {"type": "integer", "enum": list(range(1, count + 1))},
            "energy": {"type": "string", "enum": list(INTENTS)},
        },
        "required": ["move", "energy"],
    }


def grammar(count: int) -> str:
    """The same decision as a llama.cpp GBNF grammar without whitespace: only the menu's numbers can come out."""
    opening, middle = json.dumps('{"move":'), json.dumps(',"energy":')
    numbers = " | ".join(json.dumps(str(n)) for n in range(1, count + 1))
    intents = " | ".join(json.dumps(json.dumps(word)) for word in INTENTS)
    return "\n".join([f'root ::= {opening} move {middle} intent "}}"', f"move ::= {numbers}", f"intent ::= {intents}"])


SYSTEM = (
    "You are the DJ of a live techno set. Pick the one move for the next phrase from the numbered menu that best "
    "fits the brief, the part of the set and the critic, and say whether the energy should go up, hold or go down. "
    'Answer with JSON only, e.g. {"move":2,"energy":"hold"}.'
)


def view(
    *,
    brief: str,
    bar: int,
    total: int,
    phase: str,
    target: float,
    energy: float,
    mixer: dict[str, dict[str, Any]],
    directives: Sequence[str],
    options: Sequence[Option],
    said: Sequence[str] = (),
) -> str:
    """What the LM sees: compact, because a 135M model reads slowly and forgets quickly."""
    channels = ", ".join(f"{role} {c['gain']:.2f}" for role, c in mixer.items() if not c["muted"])
    lines = [
        f"Brief: {brief}",
        f"Next phrase: bar {bar} of {total}, {phase}; energy {energy:.2f}, target {target:.2f}.",
        f"Playing: {channels or 'nothing'}",
    ]
    if directives:
        lines.append(f"Critic: {' | '.join(directives)}")
    if said:
        lines.append(f"The performer asks: {' | '.join(said)}")
    lines.append("Moves:")
    lines += [f"{n}. {o.label} (energy → {o.energy:.2f})" for n, o in enumerate(options, 1)]
    return "\n".join(lines)


def parse(text: str, count: int) -> tuple[dict[str, Any], list[str]]:
    """The answer as ``{"move": n, "energy": intent}`` plus notes on anything that had to be corrected."""
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidDecision(f"not JSON: {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise InvalidDecision(f"not a JSON object: {text[:80]!r}")
    notes: list[str] = []
    move = data.get("move")
    if isinstance(move, bool) or not isinstance(move, int) or not 1 <= move <= count:
        raise InvalidDecision(f"move {move!r} is not on the menu (1..{count})")
    intent = data.get("energy")
    if intent not in INTENTS:
        notes.append(f"energy {intent!r} → hold")
        intent = "hold"
    return {"move": move, "energy": intent}, notes
