"""Every event of a performance: one tagged union of frozen msgspec structs.

Envelope (on every event):
- ``seq``: position in the set's log, given by the bus (0 until published);
- ``bar`` / ``tick``: the musical position the event belongs to (tick in ``TICKS_PER_BEAT`` units from the bar's
  start);
- ``source``: the actor slot that emitted it (``conductor``, ``critic``, ``streamer``, ``router``, ``ableton``,
  ``supervisor``, ``control``);
- ``cause``: the seq of the event it answers, or -1;
- ``wall``: wall-clock seconds when it was published, informational only and never compared in replay.

Evolution rules: new fields get defaults, tags are never reused, the log header carries ``LOG_FORMAT``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import msgspec
import msgspec.inspect

from bergain_actors.music.hearing import Hearing
from bergain_actors.music.intents import Intent
from bergain_actors.music.plan import BarPlan, Note

WALL_FIELDS = frozenset({"wall", "latency_ms"})
"""Informational fields that replay never compares (they measure the world, not the decisions)."""


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, omit_defaults=True):
    """Base of all events; never published itself."""

    seq: int = 0
    bar: int = 0
    tick: int = 0
    source: str = ""
    cause: int = -1
    wall: float = 0.0


# --- the set ------------------------------------------------------------------------------------------------------


class SetStarted(Event, frozen=True):
    """Supervisor → everyone: the set begins. Carries what every actor needs to plan the whole set."""

    name: str
    seed: int
    bpm: float
    beats_per_bar: int
    total_bars: int
    sample_rate: int
    lookahead_bars: int
    fast: bool = False


class SetEnded(Event, frozen=True):
    """Supervisor → everyone: the set is over (``reason``: complete, interrupted, error)."""

    reason: str
    bars_played: int = 0


class Control(Event, frozen=True):
    """A person or tool → supervisor/actors: a command from outside (stop, swap, brief...), logged first.
    ``stop`` takes ``args`` ``now`` (cut at the next bar line) or ``bars`` (the shortest outro wanted)."""

    command: str
    args: dict[str, Any] = {}
    request_id: str = ""
    """The HTTP request that asked for it (empty when typed in the terminal)."""


class CommandRejected(Event, frozen=True):
    """Control or supervisor → the person: a command that cannot be carried out, and why. Never a crash."""

    command: str
    """What was asked, as typed (or as the front end spelled it)."""
    reason: str


class SurfaceStarted(Event, frozen=True):
    """Control → log: a control surface (``osc``) listens at ``address`` for commands."""

    kind: str
    address: str


class KeyUnfit(Event, frozen=True):
    """The set → log: no sample of ``role`` in the pack fits the set's ``key``; that role plays its nearest ones
    (fewest pitch classes off the key). Said at the start, never silently."""

    role: str
    key: str


class PackLacks(Event, frozen=True):
    """The set → log: the pack has no ``need`` to make the set's ``part`` of, so the set plays without it
    (``cost``). Said at the start, never silently."""

    part: str
    need: str
    cost: str


class SampleSkipped(Event, frozen=True):
    """The set → log: a file of the pack could not be decoded (``reason``), so the set plays without it. Said at
    the start, never silently: a corrupt file in a pack is lost music the summary counts."""

    sample: str
    reason: str


class LMLacking(Event, frozen=True):
    """The set → log: the ``slot``'s ``kind`` (an LM brain, the ``llm`` critic) decides with an LM and no provider
    can answer it (``reason``: none listed, or none the router can use), so ``plays`` decides in its place (the
    conductor's as its ``fallback`` allows) until a provider is added. Said at the start, never silently."""

    slot: str
    kind: str
    reason: str
    plays: str

    def who(self) -> str:
        """``the phrase brain``, ``the llm critic``."""
        return f"the {self.kind} {'brain' if self.slot == 'conductor' else self.slot}"


class Steer(Event, frozen=True):
    """A person → conductor: how the music should go. ``intent`` is ``say`` (free words in ``text``: the LM brains
    read them, the autopilot maps common ones to moves), ``energy`` (``value`` moves the target, or sets it when
    ``absolute``), ``tempo`` (``value`` BPM: the tempo to glide to when ``absolute``, else a change), ``hold``
    (no changes until ``resume``) or ``resume``."""

    intent: Literal["say", "energy", "hold", "resume", "tempo"]
    text: str = ""
    value: float = 0.0
    absolute: bool = False


class StopPlanned(Event, frozen=True):
    """Supervisor → conductor, everyone: the set winds down and ends before bar ``end_bar`` (a phrase line); the
    conductor plays an outro from ``from_bar``. ``cause`` is the stop command."""

    from_bar: int
    end_bar: int


# --- conductor ----------------------------------------------------------------------------------------------------


class BarPlanned(Event, frozen=True):
    """Conductor → streamer, critic, ableton: what bar ``bar`` must sound like."""

    plan: BarPlan


class MixerMove(Event, frozen=True):
    """Conductor → log, console, critic: one move on the mixer (add, remove, fader, pattern, mute, unmute, swap,
    breakdown, restore), with its arguments and what the guardrails made of it."""

    move: str
    role: str = ""
    args: dict[str, Any] = {}
    result: str = "ok"
    """``ok``, ``clamped: ...`` or ``refused: ...`` — the guardrails speak here — or ``unchanged: ...`` when the
    move changed nothing audible (a fader at its gain): not a move, and no answer to a directive."""


class PhaseChanged(Event, frozen=True):
    """Conductor → log, console: the set entered another part of its arc."""

    phase: str
    target_energy: float


class DirectiveActed(Event, frozen=True):
    """Conductor → critic, log: how the Conductor answered a directive (``cause`` is the directive's seq)."""

    directive: str
    action: str


class SteerActed(Event, frozen=True):
    """Conductor → the person, log: how a steer was honoured (``cause`` is the ``Steer``)."""

    intent: str
    """What the words were taken to mean (darker, energy_up, breakdown, hold, ...; ``unknown`` when no rule fits)."""
    action: str


class IntentsRead(Event, frozen=True):
    """Conductor → log, console: what some words were taken to mean (``music/intents.py``): the brief at the set's
    start (``origin`` brief), or a steer (``cause`` is the ``Steer``). ``method``: ``lm`` (the LM's calibrated
    choice, its distributions in ``lm``), ``lexical`` (code alone: no LM, or it failed, ``fallback`` says why)."""

    origin: Literal["brief", "steer"]
    text: str
    intents: tuple[Intent, ...]
    method: str
    lm: dict[str, Any] = {}
    fallback: str = ""


class BrainChanged(Event, frozen=True):
    """Conductor → log, console: the brain stepped down (LM late or down) or back up (LM healthy again)."""

    old: str
    new: str
    reason: str


class PhraseDecision(Event, frozen=True):
    """Conductor (phrase brain) → log, console: one validated, clamped decision for the phrase starting at ``bar``."""

    decision: dict[str, Any]
    raw: str = ""
    clamped: tuple[str, ...] = ()


class RLMStep(Event, frozen=True):
    """Conductor (rlm brain) → log, console: one step of the RLM's REPL: its reasoning, code and output."""

    run: int
    step: int
    reasoning: str
    code: str
    output: str


class ToolCall(Event, frozen=True):
    """rlm worker → conductor: sandboxed code called a DJ tool (an input from the sandbox, logged first)."""

    call_id: int
    tool: str
    args: dict[str, Any] = {}


class ToolResult(Event, frozen=True):
    """Conductor → rlm worker: the value a tool returns to sandboxed code (``cause`` is the call)."""

    call_id: int
    tool: str
    value: Any = None


# --- critic -------------------------------------------------------------------------------------------------------


class Directive(Event, frozen=True):
    """Critic → conductor: what to change next, in words and in a form the Conductor can act on."""

    kind: str
    """energy_up, energy_down, less_dense, more_dense, vary, add_kick, stabilize, quieter..."""
    text: str
    severity: int = 1
    data: dict[str, Any] = {}


class DirectiveMoved(Event, frozen=True):
    """Critic → log, summary: a judgement after ``directive`` (``cause``), whether its measurable target moved:
    ``measure`` went from ``before`` toward ``target`` and is now ``after``. This, not a claim, is "acted on"."""

    directive: str
    measure: str
    before: float
    after: float
    target: float
    moved: bool


class CriticChanged(Event, frozen=True):
    """Critic → log, console: the ``llm`` critic fell back to the ``arc`` rules (LM late, failed or unreadable) or
    came back when the LM answered in time."""

    old: str
    new: str
    reason: str


# --- streamer -----------------------------------------------------------------------------------------------------


class BarPlayed(Event, frozen=True):
    """Streamer → conductor, critic: bar ``bar`` was consumed by the device (or written, offline). The clock of the
    set. ``plan_seq`` is the BarPlanned it rendered; when ``held``, the plan it played again for lack of a new one."""

    plan_seq: int
    held: bool = False
    peak: float = 0.0
    rms: float = 0.0
    gain_reduction_db: float = 0.0
    checksum: int = -1
    """CRC-32 of the bar's audio as played and written (``music.fingerprint``); -1 in logs from before it existed."""
    heard: Hearing | None = None
    """What the bar measured (loudness, brightness, kick, low end, width): what the ``audio`` critic judges."""


class BarHeld(Event, frozen=True):
    """Streamer → conductor, log: bar ``bar``'s plan did not arrive by its deadline; the mixer state played again."""

    plan_seq: int


class LatePlan(Event, frozen=True):
    """Streamer → log: a plan arrived after its bar had already been held; it was dropped (``cause`` is the plan)."""


class AudioUnderflow(Event, frozen=True):
    """Streamer → log: the audio device ran short of our audio ``count`` times before it took bar ``bar``;
    ``silent_ms`` of silence played instead of the set, so the bar reached the speakers late. ``xruns`` of the
    ``count`` are the device's xrun flags soon after a callback of ours overran; the rest are dry spells (the
    device found none of our audio). ``server_xruns``: flags while our audio was there and no callback of ours
    overran — on JACK the server's cycle (or our callback's thread) woken late by the host — counted apart, not in
    ``count``. Logs before ``server_xruns`` counted every flag in ``count`` and ``xruns``."""

    count: int
    silent_ms: float = 0.0
    xruns: int = 0
    server_xruns: int = 0


class AudioDeviceChanged(Event, frozen=True):
    """Streamer → log, console: the device was ``lost`` at bar ``bar`` (the set goes on clock-paced to the WAV)
    or playback ``resumed`` on it from bar ``bar``."""

    status: Literal["lost", "resumed"]
    device: str
    reason: str = ""


class RenderWorkerLost(Event, frozen=True):
    """Streamer → log, console: the render worker process (offline sets) failed before bar ``bar`` (``reason``);
    the streamer renders in the set's process from that bar on, the same bytes (it renders the bars before it again
    first)."""

    reason: str


class LinkBeat(Event, frozen=True):
    """Streamer → conductor, log: where bar ``bar`` starts on the Ableton Link session's timeline (an input from
    outside: the Conductor takes ``tempo`` for the bars it plans next, so a replay follows the same tempo)."""

    tempo: float
    """The session's tempo when the bar was placed, rounded to 0.01 BPM."""
    beat: float
    """The session beat the bar starts on (a multiple of the quantum)."""
    micros: int
    """When the bar starts, on Link's clock (µs)."""
    shift_ms: float = 0.0
    """Silence inserted (> 0) or audio skipped (< 0) before the bar on the way to the speakers to land on the
    session's phase; 0 while our tempo and the session's agree. The WAV never has it."""
    peers: int = 0
    """Other peers in the session."""


class AudioStarted(Event, frozen=True):
    """Streamer → log: where the audio goes (device name or ``file only``) and why."""

    device: str
    detail: str = ""


# --- router -------------------------------------------------------------------------------------------------------


class LMRequest(Event, frozen=True):
    """Conductor or critic → router: one LM call. ``deadline_bar`` is the bar by which the answer is needed."""

    request_id: str
    purpose: str
    messages: tuple[dict[str, str], ...]
    model: str = ""
    """A provider name from ``[router]`` (empty: the router's preferred order)."""
    response_schema: dict[str, Any] | None = None
    grammar: str = ""
    """A llama.cpp GBNF grammar that providers built on llama.cpp use instead of the looser schema grammar."""
    max_tokens: int = 256
    temperature: float = 0.0
    deadline_bar: int = -1
    best_effort: bool = False
    """From outside the set (the HTTP API's ask and clip): its failures never open a provider's circuit, so a chat
    cannot take the set's own LM away."""
    score: tuple[str, ...] = ()
    """A choice (``bergain_actors.choice``): score these one-token answers instead of generating text. The provider
    returns each one's log-probability as the next token after ``messages`` and after each of ``variants``."""
    variants: tuple[tuple[dict[str, str], ...], ...] = ()
    """More message lists scored the same way (the options in other orders, a content-free prompt)."""
    continuations: tuple[str, ...] = ()
    """A cloze choice (``choice.cloze``): score each of these texts as the continuation of the answer ``messages``
    end with (a last assistant message is the answer's start), and after each of ``variants``. The provider returns
    each text's log-likelihood (the sum over its tokens); only llama.cpp's server can (the embedded LM)."""


class LMResponse(Event, frozen=True):
    """Router → requester: the answer to ``request_id`` (``cause`` is the request)."""

    request_id: str
    provider: str
    text: str
    latency_ms: float = 0.0
    """From the router receiving the request to the answer, failover included."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: tuple[str, ...] = ()
    """Providers tried before ``provider`` answered, and why each one did not."""
    scores: tuple[dict[str, float], ...] = ()
    """For a request with ``score``: per message list (``messages``, then each of ``variants``), answer token → its
    log-probability, for the tokens the provider listed. Empty: the provider gives no probabilities (``text`` is
    then its constrained answer). With ``continuations``: per message list, continuation → its log-likelihood."""


class LMAnswerCapped(Event, frozen=True):
    """Router → log, console: the answer to ``request_id`` was ``chars`` characters long and was cut to ``kept``
    (the log must stay readable; no decision needs more)."""

    request_id: str
    provider: str
    chars: int
    kept: int


class LMFailed(Event, frozen=True):
    """Router → requester: no provider could answer ``request_id`` in time (``reason`` says why, e.g. no provider)."""

    request_id: str
    reason: str
    attempts: tuple[str, ...] = ()


class ProviderStateChanged(Event, frozen=True):
    """Router → log, conductor, console: a circuit breaker moved (closed, open, half_open)."""

    provider: str
    old: str
    new: str
    reason: str


class ProviderHealth(Event, frozen=True):
    """Router → log, conductor: a snapshot of every provider's circuit (name → state)."""

    states: dict[str, str]
    order: tuple[str, ...] = ()
    """Failover order, preferred first."""
    excluded: dict[str, str] = {}
    """Providers the router could not use at all (unknown kind, missing key variable...) and why."""


class LocalServerChanged(Event, frozen=True):
    """Router → log, console: the embedded LM's child process ``started``, ``exited`` or ``failed`` to start."""

    provider: str
    status: Literal["started", "exited", "failed"]
    detail: str = ""
    address: str = ""
    pid: int = 0


class ProviderControl(Event, frozen=True):
    """Control → router: add, remove, switch (make preferred) or reset a provider at runtime."""

    op: Literal["add", "remove", "switch", "reset"]
    provider: str
    config: dict[str, Any] = {}
    request_id: str = ""
    """The HTTP request that asked for it (empty when typed in the terminal)."""


# --- ableton ------------------------------------------------------------------------------------------------------


class AbletonStatus(Event, frozen=True):
    """Ableton → log, console: Live's state as we see it: ``connected``, ``absent`` (not there at the start: the
    set plays on our own audio), ``lost``, ``restored``, ``reloaded`` (AbletonOSC restarted), ``ready`` (set-up
    done), ``setup`` (a note on set-up: tracks created, instruments loaded or to load by hand)."""

    state: str
    detail: str = ""
    live_version: str = ""
    tracks: dict[str, int] = {}
    """Role → Live track index, once set up."""


class LiveBeat(Event, frozen=True):
    """Ableton → streamer's clock, log: Live's beat listener pushed ``beat`` (beats since song start). With
    ``origin`` (the Live bar where set bar 0 plays), the set's bar is ``beat // beats_per_bar - origin``."""

    beat: int
    origin: int


class LiveValue(Event, frozen=True):
    """Ableton → log, conductor: a value Live reported through a listener (set up with the tracks, so every change
    is heard, ours or anyone's): ``tempo`` of the song (``track`` -1), ``volume`` (0..1, 0.85 is 0 dB) and
    ``panning`` (-1..1) of Live track ``track``. (Not the transport: a pushed ``is_playing`` would answer the query
    the set's start waits on.)"""

    what: str
    value: float
    track: int = -1


class LiveTempo(Event, frozen=True):
    """Ableton → conductor, log: someone set Live's tempo to ``tempo`` and the scenario follows it
    (``[ableton] on_tempo = "follow"``): the Conductor plans the next bars at it, so a replay does the same."""

    tempo: float


class LiveParameter(msgspec.Struct, frozen=True):
    name: str
    value: float
    min: float
    max: float


class LiveDevice(msgspec.Struct, frozen=True):
    name: str
    kind: int = 0
    """Live's device type: 1 instrument, 2 audio effect, 4 MIDI effect."""
    parameters: tuple[LiveParameter, ...] = ()


class LiveTrack(msgspec.Struct, frozen=True):
    index: int
    name: str
    midi: bool
    volume: float = 0.85
    pan: float = 0.0
    devices: tuple[LiveDevice, ...] = ()
    clips: tuple[str, ...] = ()
    """The name of the clip in each slot ("" for an empty slot)."""


class LiveSnapshot(Event, frozen=True):
    """Ableton → conductor, log: what Live holds, read after set-up and after each ``AbletonOp``: everything the
    rlm brain's Live tools read comes from here (and ``LiveValue``), never from Live itself."""

    tracks: tuple[LiveTrack, ...]
    scenes: int
    tempo: float
    playing: bool
    browser: dict[str, tuple[str, ...]] = {}
    """What the browser offers per category (``instruments``, ``drums``, ``audio_effects``, ``midi_effects``);
    empty when AbletonOSC has no browser API (upstream)."""


class AbletonOp(Event, frozen=True):
    """Conductor (the rlm brain's Live tools) → Ableton, log: one operation on Live, already checked by the tool's
    guardrails against the latest ``LiveSnapshot``. The Ableton actor carries it out and answers ``AbletonOpDone``."""

    op_id: int
    op: str
    args: dict[str, Any] = {}


class AbletonOpDone(Event, frozen=True):
    """Ableton → conductor, log: how ``AbletonOp`` ``op_id`` went: ``done`` (``detail``: what Live answered) or
    ``error`` (Live refused it with ``/live/error``, did not answer, or is away)."""

    op_id: int
    status: Literal["done", "error"]
    detail: str = ""


class AbletonError(Event, frozen=True):
    """Ableton → log: Live answered a call with ``/live/error`` (or a call found no answer)."""

    message: str


class ClipWritten(Event, frozen=True):
    """Ableton → log: bar ``bar``'s notes for ``role`` are in clip slot ``slot`` of Live track ``track``."""

    role: str
    track: int
    slot: int
    notes: int
    live_bar: int = -1
    """The Live bar during which it was written (-1: before Live's transport started)."""


class ClipFired(Event, frozen=True):
    """Ableton → log: the clip for bar ``bar`` was fired during Live bar ``live_bar`` (the bar before it plays);
    Live's launch quantization starts it on the bar line."""

    role: str
    track: int
    slot: int
    live_bar: int


class ClipLate(Event, frozen=True):
    """Ableton → log: ``role``'s clip for bar ``bar`` was not ready before its bar began; the track's clip plays on."""

    role: str
    reason: str


class LiveBarOff(Event, frozen=True):
    """Ableton → log, console, summary: Live did not play ``role``'s part of bar ``bar`` as planned (a clip Live
    did not confirm in time, a launch that did not happen, another clip playing): ``reason`` says which."""

    role: str
    reason: str


class SceneFired(Event, frozen=True):
    """Ableton → log: palette mode fired ``scene`` (named ``name``) of its grid for the phrase starting at
    ``bar``: the clips of Live's scene row ``row`` on the set's tracks."""

    scene: int
    name: str
    live_bar: int
    row: int = -1
    """The Live scene row the grid's scene is in (-1: logged before the grid had rows of its own)."""


# --- supervisor ---------------------------------------------------------------------------------------------------


class ActorStarted(Event, frozen=True):
    """Supervisor → log: slot ``slot`` runs actor kind ``kind``."""

    slot: str
    kind: str


class ActorCrashed(Event, frozen=True):
    """Supervisor → log: the actor in ``slot`` raised ``error`` (its events so far stand)."""

    slot: str
    kind: str
    error: str


class ActorRestarted(Event, frozen=True):
    """Supervisor → log: ``slot`` was restarted (``attempt`` within the restart window)."""

    slot: str
    kind: str
    attempt: int


class ActorFellBack(Event, frozen=True):
    """Supervisor → log: ``slot`` hit its restart limit and now runs its safe fallback ``new``."""

    slot: str
    old: str
    new: str
    reason: str


class ActorOverloaded(Event, frozen=True):
    """Bus → supervisor, log: ``slot``'s inbox was full; it is restarted rather than stalling the bus."""

    slot: str
    capacity: int


class ActorSwapped(Event, frozen=True):
    """Supervisor → log: ``slot`` now runs ``new`` instead of ``old``, from bar ``bar`` on."""

    slot: str
    old: str
    new: str


# --- requests from outside (HTTP API) -----------------------------------------------------------------------------


class ClipAdded(Event, frozen=True):
    """Control → conductor, ableton: a clip made from a prompt, its notes already validated and repaired in code
    (``start`` in ticks from the clip's start). ``target = "set"``: the Conductor plays it as a layer from the next
    phrase on; ``"ableton"``: the Ableton actor writes it into Live at ``track`` / ``slot``."""

    request_id: str
    prompt: str
    role: str
    bars: int
    notes: tuple[Note, ...]
    key: str = ""
    target: Literal["set", "ableton"] = "set"
    track: str = ""
    slot: int = -1


AnyEvent = (
    SetStarted
    | SetEnded
    | Control
    | CommandRejected
    | SurfaceStarted
    | KeyUnfit
    | PackLacks
    | SampleSkipped
    | LMLacking
    | Steer
    | StopPlanned
    | BarPlanned
    | MixerMove
    | PhaseChanged
    | DirectiveActed
    | SteerActed
    | IntentsRead
    | BrainChanged
    | PhraseDecision
    | RLMStep
    | ToolCall
    | ToolResult
    | Directive
    | DirectiveMoved
    | CriticChanged
    | BarPlayed
    | BarHeld
    | LatePlan
    | AudioUnderflow
    | AudioDeviceChanged
    | RenderWorkerLost
    | LinkBeat
    | AudioStarted
    | LMRequest
    | LMResponse
    | LMAnswerCapped
    | LMFailed
    | ProviderStateChanged
    | ProviderHealth
    | ProviderControl
    | LocalServerChanged
    | AbletonStatus
    | LiveBeat
    | LiveValue
    | LiveTempo
    | LiveSnapshot
    | AbletonOp
    | AbletonOpDone
    | AbletonError
    | ClipWritten
    | ClipFired
    | ClipLate
    | LiveBarOff
    | SceneFired
    | ActorStarted
    | ActorCrashed
    | ActorRestarted
    | ActorFellBack
    | ActorOverloaded
    | ActorSwapped
    | ClipAdded
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyEvent)


def encode(event: Event) -> bytes:
    """The event as msgpack (the log's record payload)."""
    return _encoder.encode(event)


def decode(payload: bytes) -> Event:
    """One log payload back into its event type."""
    return _decoder.decode(payload)


_LOOSE = (
    msgspec.inspect.AnyType,
    msgspec.inspect.DictType,
    msgspec.inspect.ListType,
    msgspec.inspect.TupleType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.UnionType,
)
_CHECKED: dict[type[Event], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _checked_fields(cls: type[Event]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The float fields, and the fields holding plain data of any shape (where a NaN from outside can hide)."""
    if cls not in _CHECKED:
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        floats = tuple(f.name for f in info.fields if isinstance(f.type, msgspec.inspect.FloatType))
        loose = tuple(f.name for f in info.fields if isinstance(f.type, _LOOSE))
        _CHECKED[cls] = (floats, loose)
    return _CHECKED[cls]


def non_finite(event: Event) -> str:
    """Where ``event`` holds NaN or an infinity (``field`` or ``field.key[2]``), or "": such a number is unequal
    to itself, so an event holding one could never replay identically."""
    floats, loose = _checked_fields(type(event))
    for name in floats:
        if not math.isfinite(getattr(event, name)):
            return name
    for name in loose:
        where = _find_non_finite(getattr(event, name), name)
        if where:
            return where
    return ""


def _find_non_finite(value: Any, path: str) -> str:
    if isinstance(value, float):
        return "" if math.isfinite(value) else path
    if isinstance(value, dict):
        return next((w for k, v in value.items() if (w := _find_non_finite(v, f"{path}.{k}"))), "")
    if isinstance(value, list | tuple):
        return next((w for i, v in enumerate(value) if (w := _find_non_finite(v, f"{path}[{i}]"))), "")
    return ""


def comparable(event: Event) -> dict[str, Any]:
    """The event as a plain dict without informational wall-clock fields: what replay compares."""
    data = msgspec.to_builtins(event)
    for name in WALL_FIELDS:
        data.pop(name, None)
    data["type"] = type(event).__name__
    return data
