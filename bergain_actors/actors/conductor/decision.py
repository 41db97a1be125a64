"""The phrase brain's contract with a small LM: the JSON schema it must fill, the view it is shown, and the code
that validates and clamps what comes back.

Small models follow a schema's shape under grammar constraints but ignore ``minimum``/``maximum`` (SmolLM2 said
``"energy": 10``), so every number is clamped here and every clamp is written down; the guardrails in
``music/mixer.py`` still judge each move afterwards.
"""

from __future__ import annotations

import json
from typing import Any

MAX_MOVES = 2
"""Per list: bergain's best prompt changed one thing per phrase; two leaves room without inviting chaos."""

MIN_GAIN = 0.05

KEEP = "keep"
DEFAULT = "default"


class InvalidDecision(ValueError):
    """The answer cannot be read as a decision at all (not JSON, not an object)."""


def schema(roles: list[str], patterns: list[str]) -> dict[str, Any]:
    """The response schema: small enums and ``maxItems`` keep the grammar (and the answer) short."""
    role = {"type": "string", "enum": roles}
    gain = {"type": "number", "minimum": MIN_GAIN, "maximum": 1.0}

    def layer(pattern_choices: list[str]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"role": role, "gain": gain, "pattern": {"type": "string", "enum": pattern_choices}},
            "required": ["role", "gain", "pattern"],
        }

    return {
        "type": "object",
        "properties": {
            "energy": {"type": "number", "minimum": 0.0, "maximum": 1.0},
            "remove": {"type": "array", "items": role, "maxItems": MAX_MOVES},
            "change": {"type": "array", "items": layer([KEEP, *patterns]), "maxItems": MAX_MOVES},
            "add": {"type": "array", "items": layer([DEFAULT, *patterns]), "maxItems": MAX_MOVES},
            "breakdown": {"type": "boolean"},
        },
        "required": ["energy", "remove", "change", "add", "breakdown"],
    }


def grammar(roles: list[str], patterns: list[str]) -> str:
    """The same decision as a llama.cpp GBNF grammar without whitespace, for the small local model.

    Under ``json_schema`` the server's grammar allows indentation, and SmolLM2 spends half its tokens on it; this
    one is compact, asks for exactly one change (one audible move per phrase) and at most one removal and one
    addition: about 40-110 tokens, a decision inside one bar. ``parse`` reads both forms alike."""

    def one_of(words: list[str]) -> str:
        return "(" + " | ".join(json.dumps(json.dumps(word)) for word in words) + ")"

    def field(name: str) -> str:
        return json.dumps(f'"{name}":')

    def layer(name: str, first: str) -> str:
        return (
            f'{name} ::= "{{" {field("role")} role "," {field("gain")} num "," {field("pattern")} '
            f'{one_of([first, *patterns])} "}}"'
        )

    return "\n".join(
        [
            f'root ::= "{{" {field("energy")} num "," {field("remove")} "[" role? "]," {field("change")} "[" change'
            f' "]," {field("add")} "[" add? "]," {field("breakdown")} ("true" | "false") "}}"',
            'num ::= "0." [0-9] [0-9]? | "1.0"',
            f"role ::= {one_of(roles)}",
            layer("change", KEEP),
            layer("add", DEFAULT),
        ]
    )


SYSTEM = (
    "You are the DJ of a live techno set. Decide the next phrase: change one or two things "
    "(remove a layer, change a gain or pattern, add a layer) or call a breakdown. Answer with JSON only."
)


def view(
    *,
    brief: str,
    bar: int,
    total: int,
    phase: str,
    target: float,
    cap: int,
    mixer: dict[str, dict[str, Any]],
    roles: list[str],
    energies: list[float],
    directives: list[str],
    said: list[str] = (),  # type: ignore[assignment]
) -> str:
    """What the LM sees: compact, because a 135M model reads slowly and forgets quickly."""
    channels = "; ".join(
        f"{role} {c['gain']:.2f} {c['pattern']}" + (" (muted)" if c["muted"] else "") for role, c in mixer.items()
    )
    lines = [
        f"Brief: {brief}",
        f"Next phrase starts at bar {bar} of {total}: phase {phase}, target energy {target:.2f}, at most {cap} layers.",
        f"Mixer: {channels or 'empty'}",
        f"Roles you can add: {', '.join(r for r in roles if r not in mixer) or 'none'}",
        f"Recent energy: {' '.join(f'{e:.2f}' for e in energies) or 'none yet'}",
    ]
    if directives:
        lines.append(f"Critic: {' | '.join(directives)}")
    if said:
        lines.append(f"The performer asks: {' | '.join(said)}")
    return "\n".join(lines)


def parse(text: str, roles: list[str], patterns: list[str], fallback_energy: float) -> tuple[dict[str, Any], list[str]]:
    """The answer as a clean decision plus notes on everything that had to be dropped or clamped."""
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidDecision(f"not JSON: {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise InvalidDecision(f"not a JSON object: {text[:80]!r}")
    notes: list[str] = []
    energy = _number(data.get("energy"))
    if energy is None:
        notes.append(f"energy {data.get('energy')!r} → {fallback_energy:g}")
        energy = fallback_energy
    elif not 0.0 <= energy <= 1.0:
        clamped = min(max(energy, 0.0), 1.0)
        notes.append(f"energy {energy:g} → {clamped:g}")
        energy = clamped
    remove = [r for r in _items(data, "remove", notes) if _known(r, roles, "remove", notes)]
    change = [
        c for c in (_layer(i, roles, patterns, KEEP, "change", notes) for i in _items(data, "change", notes)) if c
    ]
    add = [c for c in (_layer(i, roles, patterns, DEFAULT, "add", notes) for i in _items(data, "add", notes)) if c]
    breakdown = data.get("breakdown") is True
    decision = {"energy": round(energy, 4), "remove": remove, "change": change, "add": add, "breakdown": breakdown}
    return decision, notes


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def _items(data: dict[str, Any], key: str, notes: list[str]) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        notes.append(f"{key}: not a list, ignored")
        return []
    if len(value) > MAX_MOVES:
        notes.append(f"{key}: {len(value)} items → {MAX_MOVES}")
    return value[:MAX_MOVES]


def _known(role: Any, roles: list[str], key: str, notes: list[str]) -> bool:
    if isinstance(role, str) and role in roles:
        return True
    notes.append(f"{key}: unknown role {role!r} dropped")
    return False


def _layer(
    item: Any, roles: list[str], patterns: list[str], neutral: str, key: str, notes: list[str]
) -> dict[str, Any] | None:
    if not isinstance(item, dict) or not _known(item.get("role"), roles, key, notes):
        return None
    role = item["role"]
    gain = _number(item.get("gain"))
    if gain is None:
        notes.append(f"{key} {role}: gain {item.get('gain')!r} dropped")
    elif not MIN_GAIN <= gain <= 1.0:
        clamped = min(max(gain, MIN_GAIN), 1.0)
        notes.append(f"{key} {role}: gain {gain:g} → {clamped:g}")
        gain = clamped
    pattern = item.get("pattern", neutral)
    if pattern != neutral and pattern not in patterns:
        notes.append(f"{key} {role}: unknown pattern {pattern!r} → {neutral}")
        pattern = neutral
    return {"role": role, "gain": None if gain is None else round(gain, 4), "pattern": pattern}
