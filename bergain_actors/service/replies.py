"""What the API answers, as typed structs: the endpoints return them, ``/openapi.json`` describes them."""

from __future__ import annotations

from typing import Any

import msgspec

from bergain_actors.music.clip import ClipNote


class Problem(msgspec.Struct, omit_defaults=True):
    """Any error: what went wrong and, for a bad request, which field."""

    error: str
    field: str = ""
    seq: int = 0
    """For a command that was logged and rejected: its ``CommandRejected`` event."""


class LayerView(msgspec.Struct, frozen=True):
    role: str
    gain: float
    pattern: str = ""


class Upcoming(msgspec.Struct, frozen=True):
    in_bars: int
    what: str
    """A performer's steer at its 4-bar line, the next phrase decision, the next part of the arc, the end."""


class PhaseBand(msgspec.Struct, frozen=True):
    """A part of the set's arc as planned: bars ``start`` to ``end`` (exclusive), its target rising low → high."""

    phase: str
    start: int
    end: int
    low: float
    high: float


class CommandView(msgspec.Struct, frozen=True):
    """A performer's command and what became of it."""

    seq: int
    text: str
    state: str
    """waiting (for its bar line), acted, or rejected."""
    answer: str
    """The Conductor's ``SteerActed`` action, the swap or outro planned, or the rejection's reason."""
    bar: int


class SetSnapshot(msgspec.Struct):
    """The set right now."""

    name: str
    seq: int
    """The latest event published."""
    bar: int
    """The latest bar played (-1 before the first)."""
    total_bars: int
    bpm: float
    """The tempo of the bar playing (a glide's step)."""
    beats_per_bar: int
    phase: str
    target_energy: float
    energy: float
    layers: tuple[LayerView, ...]
    brain: str
    critic: str
    decision: dict[str, Any]
    critic_notes: list[dict[str, Any]]
    energy_by_bar: list[tuple[int, float, float]]
    """(bar, target, actual) for the bars played, the latest 512."""
    ended: str
    """Why the set ended, or empty while it plays."""
    key: str = ""
    end_bar: int = 0
    """The bar the set ends before (sooner than ``total_bars`` after ``stop``)."""
    seconds_left: float = 0.0
    upcoming: list[Upcoming] = []
    phases: list[PhaseBand] = []
    tempo_by_bar: list[tuple[int, float]] = []
    """(first bar, BPM) each time the tempo played changed."""
    tempo_limits: tuple[float, float] = (0.0, 0.0)
    """The tempos a ``tempo`` command may reach."""
    commands: list[CommandView] = []
    """The latest commands, newest first."""
    stalls: int = 0
    """Bars the engine played again because their plan was late."""
    held_bars: int = 0
    """Bars played while the performer held the groove."""
    holding: bool = False
    underflows: int = 0
    device: str = ""
    device_ok: bool = True
    ableton: str = ""
    live_bars_off: int = 0
    """Bars Ableton Live did not play as planned (each a ``LiveBarOff`` event, with its role and why)."""


class ProviderView(msgspec.Struct):
    name: str
    state: str
    """closed, half_open, open, or excluded (the router could not use it at all: ``detail`` says why)."""
    symbol: str
    preferred: bool = False
    latency_ms_p50: float | None = None
    answers: int = 0
    opened: int = 0
    """Times its circuit opened during the set."""
    kind: str = ""
    model: str = ""
    failures: int = 0
    """Consecutive failures now."""
    retry_in_s: float | None = None
    """Seconds until an open circuit lets a probe through (null: never on its own, e.g. a dead local server)."""
    detail: str = ""


class Health(msgspec.Struct):
    status: str
    uptime_s: float
    playing: bool
    """A set is playing here and has not ended: commands that steer it can work."""
    set: SetSnapshot
    providers: dict[str, str]
    lm: bool = False
    """There is an LM router: ``/ask`` and ``/clip`` can work."""


class CommandReply(msgspec.Struct, omit_defaults=True):
    ok: bool
    answer: str
    seq: int = 0
    """The command's event (0: nothing was logged, e.g. help)."""


class ProviderReply(msgspec.Struct):
    seq: int
    provider: str
    op: str


class AskReply(msgspec.Struct):
    answer: str
    """Facts from the set's state, in words (``service/chat.py``): never an LM's claim."""
    conversation: str
    suggestion: str | None
    """The same as ``proposed`` (kept for older clients)."""
    context: dict[str, Any]
    """The facts the answer was drawn from, as the set's state held them."""
    provider: str
    """The LM provider that chose the topic ("" when code did)."""
    seq: int
    """Its ``LMResponse`` event (0: none)."""
    proposed: str | None = None
    """The command an instruction asks for (a line ``control.parse`` accepts), never applied: a person confirms it
    by sending it (``/control``, the terminal, the dashboard's button); null for a question."""
    topics: list[str] = []
    """What the question was about."""
    how: str = "code"


class ClipReply(msgspec.Struct, omit_defaults=True):
    prompt: str
    role: str
    key: str
    bars: int
    notes: tuple[ClipNote, ...]
    """Beats from the clip's start, as Ableton takes them."""
    candidate: str
    """The name of the candidate chosen (``music.clip_candidates``)."""
    sounds: str
    """How it sounds, as the LM read it."""
    how: str
    """Who chose it and how sure, or why the words chose it instead."""
    choice: dict[str, Any] | None = None
    """The LM's ``choice.Choice``: its raw and calibrated distributions over the candidates."""
    seq: int = 0
    """The ``ClipAdded`` event (0 with target ``none``)."""
    from_bar: int | None = None
    """In the set: the bar (a phrase line) the clip starts on."""


class Unavailable(msgspec.Struct):
    """503: no provider could answer, with each one's circuit and when it will be tried again."""

    error: str
    attempts: tuple[str, ...]
    providers: list[ProviderView]
