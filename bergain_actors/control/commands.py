"""The live command language, shared by every front end (terminal, OSC control surface, HTTP): one line of text
in, one event out. Pure: no bus, no I/O, so a front end can parse and a test can check without a set.

Anything that is not a command is a performer's words: a ``Steer`` the Conductor answers. A command that is
malformed is a ``CommandRejected`` (an event too, so the log shows what was asked and why it was refused).
"""

from __future__ import annotations

import math

import msgspec

from bergain_actors.core import events as ev

HELP = """commands (each goes into the log; the answer appears below):
  any words                   steer the music: "darker", "more tension", "breakdown now", "hats out"...
  energy + | energy - | energy 0.7     move the energy target (or set it, 0..1)
  tempo 126 | tempo +2 | tempo -4     glide the set's tempo there (2 BPM a bar, within 20 % of the scenario's)
  hold | resume               keep the groove exactly as it is / let the brain change it again
  stop [BARS] | stop now      wind down over an outro of at least BARS bars (default 8) to a phrase line / cut
  swap SLOT KIND              e.g. swap critic none, swap conductor autopilot (at the next bar line)
  provider add NAME [KIND [MODEL [BASE_URL]]]   add a provider (or bring back a removed one)
  provider switch|reset|remove NAME             prefer it / close its circuit / take it out
  help"""

MAX_TEXT = 200
"""Longest steer kept; a person's words, not a document."""

ENERGY_STEP = 0.1
PROVIDER_OPS = ("add", "remove", "switch", "reset")


class Help(msgspec.Struct, frozen=True):
    """Not an event: the front end shows ``text`` and logs nothing."""

    text: str = HELP


Parsed = ev.Control | ev.Steer | ev.ProviderControl | ev.CommandRejected | Help


def parse(line: str) -> Parsed:
    """The event a command line means (``CommandRejected`` when it is malformed), or ``Help``."""
    text = " ".join("".join(c if c.isprintable() else " " for c in line).split())
    words = text.split()
    head = words[0].lower() if words else ""
    match [head, *words[1:]]:
        case [""] | ["help"] | ["?"]:
            return Help()
        case ["swap", slot, kind]:
            return ev.Control(command="swap", args={"slot": slot, "kind": kind})
        case ["swap", *_]:
            return _reject(text, "swap needs a slot and a kind, e.g. swap critic none")
        case ["stop"]:
            return ev.Control(command="stop")
        case ["stop", "now"]:
            return ev.Control(command="stop", args={"now": True})
        case ["stop", bars] if bars.isdigit() and 1 <= int(bars) <= 128:
            return ev.Control(command="stop", args={"bars": int(bars)})
        case ["stop", *_]:
            return _reject(text, "stop takes nothing, 'now', or a number of bars from 1 to 128")
        case ["hold"]:
            return ev.Steer(intent="hold", text=text)
        case ["resume"]:
            return ev.Steer(intent="resume", text=text)
        case ["energy", amount]:
            return energy(amount, text)
        case ["energy", *_]:
            return _reject(text, "energy takes one of +, -, a change like +0.2, or a level from 0 to 1")
        case ["tempo", amount]:
            return tempo(amount, text)
        case ["tempo", *_]:
            return _reject(text, "tempo takes a BPM like 126, or a change like +2 or -4")
        case ["provider", op, name, *config] if op.lower() in PROVIDER_OPS:
            return provider(op.lower(), name, config, text)
        case ["provider", *_]:
            return _reject(text, f"provider needs an operation ({', '.join(PROVIDER_OPS)}) and a name")
        case ["say" | "steer", *rest] if rest:
            return steer(" ".join(rest))
        case _:
            return steer(text)


def steer(words: str) -> ev.Steer:
    """Free words for the Conductor."""
    return ev.Steer(intent="say", text=words[:MAX_TEXT])


def energy(amount: str, text: str) -> ev.Steer | ev.CommandRejected:
    """``+``/``-`` (one step), ``++`` (two), ``+0.2`` (a change) or ``0.7`` (a level)."""
    if 1 <= len(amount) <= 3 and set(amount) in ({"+"}, {"-"}):
        sign = 1 if amount[0] == "+" else -1
        return ev.Steer(intent="energy", text=text, value=round(sign * ENERGY_STEP * len(amount), 4))
    if amount in ("up", "down"):
        return ev.Steer(intent="energy", text=text, value=ENERGY_STEP if amount == "up" else -ENERGY_STEP)
    try:
        value = float(amount)
    except ValueError:
        value = math.nan
    relative = amount[:1] in "+-"
    if relative and math.isfinite(value) and abs(value) <= 1:
        return ev.Steer(intent="energy", text=text, value=value)
    if not relative and 0 <= value <= 1:
        return ev.Steer(intent="energy", text=text, value=value, absolute=True)
    return _reject(text, f"energy: {amount!r} is not +, -, a change from -1 to +1, or a level from 0 to 1")


def tempo(amount: str, text: str) -> ev.Steer | ev.CommandRejected:
    """``126`` (a tempo to glide to) or ``+2`` / ``-4`` (a change); the Conductor keeps it within its limits."""
    try:
        value = float(amount)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (amount[:1] not in "+-" and value <= 0) or abs(value) > 999:
        return _reject(text, f"tempo: {amount!r} is not a BPM like 126 or a change like +2")
    return ev.Steer(intent="tempo", text=text, value=value, absolute=amount[:1] not in "+-")


def energy_level(level: float, text: str = "") -> ev.Steer | ev.CommandRejected:
    """An absolute energy level from a fader (OSC, HTTP): 0..1."""
    if not (math.isfinite(level) and 0 <= level <= 1):
        return _reject(text or f"energy {level}", f"energy: level {level} is outside 0..1")
    return ev.Steer(intent="energy", text=text or f"energy {level:g}", value=round(level, 4), absolute=True)


def provider(op: str, name: str, config: list[str], text: str) -> ev.ProviderControl | ev.CommandRejected:
    if op != "add" and config:
        return _reject(text, f"provider {op} takes only a name")
    if len(config) > 3:
        return _reject(text, "provider add NAME [KIND [MODEL [BASE_URL]]]")
    fields = dict(zip(("kind", "model", "base_url"), config, strict=False))
    return ev.ProviderControl(op=op, provider=name, config=fields)  # type: ignore[arg-type]


def swap(slot: str, kind: str) -> ev.Control:
    return ev.Control(command="swap", args={"slot": slot, "kind": kind})


def _reject(text: str, reason: str) -> ev.CommandRejected:
    return ev.CommandRejected(command=text, reason=reason)
