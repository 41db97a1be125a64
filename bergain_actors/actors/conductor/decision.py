"""The phrase brain's question to an LM: which of a few valid moves the next phrase makes, as a ``choice`` ballot.

The menu (``menu.py``) holds only moves that code has already made valid for this moment. The LM is shown the
moment in words (the brief, where the set is, energy against the arc's target, what plays, the critic, the
performer) and the moves with what each does, and is *scored* on the moves' labels (``bergain_actors.choice``):
no text to parse, no example answer to copy. Pure: the prompt is a function of its arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bergain_actors.actors.conductor.menu import Option

SYSTEM = (
    "You are the DJ of a live techno set. Read where the set is and what the brief, the critic and the performer "
    "ask for, then choose the one move for the next phrase that serves them best."
)
QUESTION = "Which move should the next phrase make?"
NEAR = 0.05
"""How close to its target the energy counts as on target."""

EFFECTS = {
    "energy_up": "more energy",
    "energy_down": "less energy",
    "more_dense": "fuller",
    "less_dense": "sparser",
    "darker": "darker",
    "brighter": "brighter",
}


def need(energy: float, target: float) -> str:
    """Where the energy should go, in words (a small model reads words better than numbers)."""
    if energy < target - NEAR:
        return f"the energy ({energy:.2f}) should rise toward {target:.2f}"
    if energy > target + NEAR:
        return f"the energy ({energy:.2f}) should fall toward {target:.2f}"
    return f"the energy ({energy:.2f}) is on its target"


def context(
    *,
    brief: str,
    bar: int,
    total: int,
    phase: str,
    target: float,
    energy: float,
    mixer: dict[str, dict[str, Any]],
    directives: Sequence[str],
    said: Sequence[str] = (),
) -> str:
    """The moment as the LM reads it: compact, because a 135M model reads slowly and forgets quickly."""
    channels = ", ".join(f"{role} {c['gain']:.2f}" for role, c in mixer.items() if not c["muted"])
    lines = [
        f"Brief: {brief}",
        f"Next phrase: bar {bar} of {total}, the {phase}; {need(energy, target)}.",
        f"Playing: {channels or 'nothing'}.",
    ]
    if directives:
        lines.append(f"The critic says: {' | '.join(directives)}")
    if said:
        lines.append(f"The performer asks: {' | '.join(said)}")
    return "\n".join(lines)


def describe(option: Option) -> str:
    """A move and what it does, in the words ``context`` uses."""
    effects = [EFFECTS[kind] for kind in option.answers if kind in EFFECTS]
    return f"{option.label} ({', '.join(effects)})" if effects else option.label
