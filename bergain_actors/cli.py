"""The ``bergain-actors`` command.

Exit codes: 0 ok, 1 unexpected failure, 2 bad input, 3 replay diverged, 4 log incomplete or damaged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # dspy/LiteLLM must not fetch a price list offline

import msgspec
import structlog
import trio
from rich.console import Console

from bergain_actors import __version__
from bergain_actors.control.console import console
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.fatal import SetCannotContinue
from bergain_actors.core.log import DamagedHeader, LogError, LogReader
from bergain_actors.core.logging import configure
from bergain_actors.core.summary import Summary
from bergain_actors.display.narrate import Narrator
from bergain_actors.outputs import OutputRefused, check_output, replacing, write_atomically

if TYPE_CHECKING:
    from bergain_actors.actors.streamer.render_worker import RenderWorker
    from bergain_actors.core.scenario import Scenario
    from bergain_actors.performance import SetResult
    from bergain_actors.replay import Verdict
    from bergain_actors.service.frontend import HttpFrontend
    from bergain_actors.service.mcp_stdio import StdioFrontend

OK, FAILED, BAD_INPUT, DIVERGED, INCOMPLETE = 0, 1, 2, 3, 4
DEFAULT_URL = "http://127.0.0.1:8765"


class BadInput(Exception):
    """Something the user gave us is wrong; the message says what (exit 2, no traceback)."""


class Parser(argparse.ArgumentParser):
    """argparse that answers a bad command line with one line (exit 2), not its usage block."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("bergain-actors").strip()  # "" for the top level: no name said twice
        self.exit(BAD_INPUT, f"bergain-actors: {command + ': ' if command else ''}{message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(json=args.log_json or getattr(args, "log_format", "") == "json", quiet=getattr(args, "quiet", False))
    try:
        return args.func(args)
    except DamagedHeader as exc:
        print(f"bergain-actors: {exc}", file=sys.stderr)
        return INCOMPLETE
    except (BadInput, scenarios.ScenarioError, LogError, OutputRefused) as exc:
        print(f"bergain-actors: {exc}", file=sys.stderr)
        return BAD_INPUT
    except BrokenPipeError:  # `inspect --json | head` is a normal way to read a log
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's final flush
        return OK
    except BaseException as exc:  # Ctrl-C, bare or inside trio's exception groups: no traceback, exit 130
        from bergain_actors.performance import stopped

        if not stopped(exc) or isinstance(exc, trio.Cancelled):
            raise
        print("bergain-actors: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bergain-actors",
        description="An AI DJ that performs live: an event-sourced actor system you can replay to the sample.",
    )
    parser.add_argument("--version", action="version", version=f"bergain-actors {__version__}")
    parser.add_argument("--log-json", action="store_true", help="console output as JSON lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="play a scenario", description="Play a scenario live (or offline with --fast).")
    run.add_argument("scenario", nargs="?", default=str(scenarios.DEFAULT_SCENARIO), help="scenario.toml")
    length = run.add_mutually_exclusive_group()
    length.add_argument("--bars", type=int, help="play this many bars")
    length.add_argument("--minutes", type=float, help=f"play this many minutes (at most {scenarios.MAX_MINUTES})")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--fast", action="store_true", help="virtual time: render as fast as the decisions come")
    run.add_argument("--no-audio", action="store_true", help="never open an audio device; only write the WAV")
    run.add_argument("--device", help="play on this output (name substring or index; see `devices`)")
    run.add_argument("--sample-rate", type=int, help="render the set (and its WAV) at this rate in Hz")
    run.add_argument("--out", type=Path, help="folder for the set's log and WAV (default: the scenario's log_dir)")
    run.add_argument("--dry-run", action="store_true", help="validate and print the resolved configuration")
    run.add_argument("--plain", action="store_true", help="human lines instead of the live display on a terminal")
    run.add_argument("-v", "--verbose", action="store_true", help="also tell the moves the guardrails refused")
    run.add_argument(
        "--log-format", choices=("human", "json"), default="human", help="json: every event as a JSON line on stderr"
    )
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report at the end")
    run.add_argument("--quiet", action="store_true", help="hide the play-by-play; print only the summary")
    run.add_argument("--http", metavar="[HOST:]PORT", help="serve the HTTP API and dashboard beside the set")
    run.add_argument("--token-env", metavar="NAME", help="environment variable holding the API's bearer token")
    add_allow_key_env(run)
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser("replay", help="re-render or verify a logged set")
    replay.add_argument("log", type=Path)
    replay.add_argument("--wav", type=Path, help="write the re-rendered audio here")
    replay.add_argument("--verify", action="store_true", help="re-run the deciding actors; exit 3 on divergence")
    replay.add_argument("--midi", type=Path, help="write the set as a multi-track MIDI file here")
    replay.add_argument(
        "--ableton",
        nargs="?",
        const="",
        metavar="SCENARIO",
        help="perform the set again into Ableton Live (its [ableton] table; default: the log's)",
    )
    replay.add_argument(
        "--wav-check", type=Path, metavar="SET.wav", help="with --verify: the set's WAV must hold exactly its bars"
    )
    replay.add_argument("--force", action="store_true", help="overwrite an existing --wav or --midi file")
    replay.add_argument("--pack", type=Path, help="the sample pack folder, if not where the log says")
    replay.add_argument(
        "--swap",
        action="append",
        default=[],
        metavar="SLOT=KIND",
        help="what-if: play the set again from its recorded inputs with another conductor or critic (needs --out)",
    )
    replay.add_argument("--out", type=Path, help="what-if: folder for the new set's log and WAV")
    replay.add_argument(
        "--allow-partial", action="store_true", help="accept an incomplete or damaged log (exit 0 instead of 4)"
    )
    replay.set_defaults(func=cmd_replay)

    inspect = sub.add_parser("inspect", help="summarize a logged set")
    inspect.add_argument("log", type=Path)
    inspect.add_argument("--json", action="store_true", help="one JSON object per event per line")
    inspect.add_argument(
        "--allow-partial", action="store_true", help="accept an incomplete or damaged log (exit 0 instead of 4)"
    )
    inspect.set_defaults(func=cmd_inspect)

    samples = sub.add_parser("samples", help="list a sample pack's roles and counts")
    samples.add_argument("path", nargs="?", type=Path, default=scenarios.PACKAGE_ROOT / "sample_pack")
    samples.add_argument("--sample-rate", type=int, default=44100)
    samples.set_defaults(func=cmd_samples)

    providers = sub.add_parser("providers", help="list the LM providers a scenario would use, and their state")
    providers.add_argument("scenario", nargs="?", default=str(scenarios.DEFAULT_SCENARIO), help="scenario.toml")
    providers.add_argument("--json", action="store_true", help="one JSON object per provider")
    providers.set_defaults(func=cmd_providers)

    check = sub.add_parser("check", help="is Ableton Live (AbletonOSC) usable for a set?")
    live = scenarios.PACKAGE_ROOT / "scenarios" / "ableton.toml"
    check.add_argument("scenario", nargs="?", default=str(live), help=f"scenario.toml (default {live.name})")
    check.set_defaults(func=cmd_check)

    serve = sub.add_parser(
        "serve",
        help="the HTTP API: a set with its dashboard, or the LM router alone",
        description="With a SCENARIO: play it behind the HTTP API (like run --http). Without: serve the default "
        "scenario's LM providers (ask, clip, providers) with no set playing.",
    )
    serve.add_argument("scenario", nargs="?", help="scenario.toml to play (omit to serve the router alone)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (beyond loopback needs --token-env)")
    serve.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    serve.add_argument("--token-env", metavar="NAME", help="environment variable holding the bearer token")
    serve_length = serve.add_mutually_exclusive_group()
    serve_length.add_argument("--bars", type=int, help="play this many bars")
    serve_length.add_argument("--minutes", type=float, help=f"play this many minutes (at most {scenarios.MAX_MINUTES})")
    serve.add_argument("--fast", action="store_true", help="virtual time (the API still answers)")
    serve.add_argument("--no-audio", action="store_true", help="never open an audio device; only write the WAV")
    serve.add_argument("--out", type=Path, help="folder for the set's log and WAV")
    add_allow_key_env(serve)
    serve.set_defaults(func=cmd_serve)

    mcp = sub.add_parser(
        "mcp",
        help="the MCP server on stdio, for Claude Desktop or any MCP client (and the set, if given)",
        description="With a SCENARIO: play it, driven by the MCP client that started this process (the set lives "
        "until the client leaves). Without: the default scenario's LM providers (ask, clip, providers). stdout "
        "carries only the protocol; the play-by-play and the summary go to stderr.",
    )
    mcp.add_argument("scenario", nargs="?", help="scenario.toml to play (omit to serve the router alone)")
    mcp_length = mcp.add_mutually_exclusive_group()
    mcp_length.add_argument("--bars", type=int, help="play this many bars")
    mcp_length.add_argument("--minutes", type=float, help="play this many minutes")
    mcp.add_argument("--fast", action="store_true", help="virtual time (the set may end before the client acts)")
    mcp.add_argument("--no-audio", action="store_true", help="never open an audio device; play to the WAV in time")
    mcp.add_argument("--out", type=Path, help="folder for the set's log and WAV")
    mcp.add_argument("--no-report", action="store_true", help="do not write the HTML report at the end")
    mcp.set_defaults(func=cmd_mcp)

    clip = sub.add_parser(
        "clip",
        help="prompt → MIDI clip ('4-bar acid bassline in A minor')",
        description="With --url (a set's API) the clip joins the set from its next phrase, or goes into Ableton with "
        "--track/--slot. Without, the scenario's LM writes it to a MIDI file.",
    )
    clip.add_argument("prompt")
    clip.add_argument("--url", help=f"a running set's API (e.g. {DEFAULT_URL})")
    clip.add_argument("--track", default="", help="Ableton track to write the clip into (needs --url)")
    clip.add_argument("--slot", type=int, default=-1, help="Ableton clip slot (-1: the first free one)")
    clip.add_argument("--midi", type=Path, help="write the clip to this MIDI file (default without --url: clip-*.mid)")
    clip.add_argument("--force", action="store_true", help="overwrite an existing MIDI file")
    clip.add_argument("--scenario", default=str(scenarios.DEFAULT_SCENARIO), help="whose LM providers to use")
    clip.add_argument("--token-env", metavar="NAME", help="environment variable holding the API's bearer token")
    clip.set_defaults(func=cmd_clip)

    ask = sub.add_parser("ask", help="ask the co-DJ about the set (uses a running set's API when one answers)")
    ask.add_argument("question")
    ask.add_argument("--url", help=f"the set's API (default: {DEFAULT_URL} if a set answers there, else no set)")
    ask.add_argument("--conversation", default="cli", help="conversation id: the API remembers its last turns")
    ask.add_argument("--scenario", default=str(scenarios.DEFAULT_SCENARIO), help="providers when no set answers")
    ask.add_argument("--token-env", metavar="NAME", help="environment variable holding the API's bearer token")
    ask.set_defaults(func=cmd_ask)

    intent = sub.add_parser("intent", help="what words ask the music to do: intents and their probabilities")
    intent.add_argument("words")
    intent.add_argument("--json", action="store_true", help="one JSON object")
    intent.add_argument("--scenario", default=str(scenarios.DEFAULT_SCENARIO), help="whose LM providers read them")
    intent.set_defaults(func=cmd_intent)

    report = sub.add_parser("report", help="an HTML page of plots of a logged set")
    report.add_argument("log", type=Path)
    report.add_argument("--out", type=Path, help="folder for the page (default: beside the log)")
    report.add_argument("--allow-partial", action="store_true", help="exit 0 for a log that is cut or damaged")
    report.set_defaults(func=cmd_report)

    devices = sub.add_parser("devices", help="list the audio outputs and their sample rates")
    devices.set_defaults(func=cmd_devices)

    from bergain_actors.evaluate import command as evaluate

    evaluate.add_parser(sub)

    pack = sub.add_parser("make-pack", help="regenerate the shipped sample pack (byte-identical)")
    pack.add_argument("out", nargs="?", type=Path, default=scenarios.PACKAGE_ROOT / "sample_pack")
    pack.set_defaults(func=cmd_make_pack)
    return parser


def add_allow_key_env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-key-env",
        action="append",
        default=[],
        metavar="NAME",
        help="an API key variable a provider added at runtime may use (repeat for more; none by default)",
    )


def allow_keys(scenario: scenarios.Scenario, names: list[str]) -> scenarios.Scenario:
    """``--allow-key-env``: the scenario's ``[router] allow_key_env`` and these."""
    if not names:
        return scenario
    allowed = [*scenario.router.allow_key_env, *(n for n in names if n not in scenario.router.allow_key_env)]
    return scenarios.replace(scenario, router=msgspec.structs.replace(scenario.router, allow_key_env=allowed))


# --- run ----------------------------------------------------------------------------------------------------------


def load_scenario(args: argparse.Namespace) -> tuple[scenarios.Scenario, str]:
    scenario, text = scenarios.load(args.scenario)
    changes: dict[str, object] = {}
    if args.bars is not None:
        changes.update(bars=args.bars, minutes=None)
    if args.minutes is not None:
        changes.update(minutes=args.minutes, bars=None)
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.sample_rate is not None:
        changes["sample_rate"] = args.sample_rate
    if args.device is not None:
        if args.fast or args.no_audio:
            raise BadInput("--device: cannot play on a device with --fast or --no-audio")
        changes["streamer"] = {**msgspec.to_builtins(scenario.streamer), "device": args.device, "output": True}
    if changes:
        scenario = scenarios.override(scenario, **changes)
    check_kinds(scenario, Path(args.scenario).name)
    check_lm(scenario, Path(args.scenario).name)
    return allow_keys(scenario, args.allow_key_env), text


def check_lm(scenario: scenarios.Scenario, label: str) -> None:
    """An LM brain no provider can answer plays the autopilot only when ``conductor.fallback`` lists it: a scenario
    that leaves it out asked for its LM explicitly, and is refused."""
    from bergain_actors.performance import lm_lacking

    for lack in lm_lacking(scenario):
        if lack.slot == "conductor" and lack.plays not in scenario.conductor.fallback:
            raise scenarios.ScenarioError(
                f"{label}: conductor.kind: {lack.who()} needs an LM and none can answer ({lack.reason});"
                f' list "{lack.plays}" in conductor.fallback to play without one'
            )


def check_kinds(scenario: scenarios.Scenario, label: str) -> None:
    """What the schema cannot see: actor kinds, provider kinds and their files, the pack folder."""
    from bergain_actors.core import actor as registry
    from bergain_actors.performance import slots_of

    for slot in slots_of(scenario):
        try:
            registry.factory(slot, getattr(scenario, slot).kind)
        except LookupError as exc:
            raise scenarios.ScenarioError(f"{label}: {exc}") from None
    for index, provider in enumerate(scenario.router.providers):
        from bergain_actors.actors.router.providers import config_problem  # httpx and jsonschema: only if asked for

        problem = config_problem(provider, scenario.path)
        if problem is not None:
            key, why = problem
            raise scenarios.ScenarioError(f"{label}: router.providers[{index}].{key}: {why}")
    pack = scenario.path(scenario.sample_pack)
    if not pack.is_dir():
        raise scenarios.ScenarioError(f"{label}: sample_pack: {not_a_folder(pack)}: {pack}")


def not_a_folder(path: Path) -> str:
    """Why a folder asked for is not one: it is missing, or it is a file."""
    return "not a folder" if path.exists() else "no such folder"


def cmd_run(args: argparse.Namespace, stdio: StdioFrontend | None = None) -> int:
    if args.token_env and not args.http:
        raise BadInput("--token-env: the token of the HTTP API; it goes with --http [HOST:]PORT")
    scenario, text = load_scenario(args)
    check_folder(args.out, make=False)
    if args.dry_run:
        resolved = scenario.to_builtins()
        resolved["total_bars"] = scenario.total_bars()
        print(msgspec.json.format(msgspec.json.encode(resolved)).decode())
        return OK
    worker: RenderWorker | bool = True  # perform starts one if the set is rendered offline
    if args.fast:  # it is: the render worker starts now, beside this process's imports and pack
        from bergain_actors.actors.streamer.render_worker import RenderWorker

        early = RenderWorker.start(scenario.sample_rate)
        worker = early if not isinstance(early, str) else True
    try:
        return _run(args, stdio, scenario, text, worker)
    finally:
        if not isinstance(worker, bool):
            worker.close()  # perform closed it already, unless the set never started


def _run(
    args: argparse.Namespace, stdio: StdioFrontend | None, scenario: Scenario, text: str, worker: RenderWorker | bool
) -> int:
    from bergain_actors.actors.streamer.devices import NoDevice
    from bergain_actors.actors.streamer.sinks import DeviceSink, raise_set_priority
    from bergain_actors.performance import choose_sink, perform, set_paths, stopped, terminated

    http = http_frontend(args.http, args.token_env) if args.http else None
    log_path, wav_path = set_paths(scenario, args.out)
    try:
        sink, detail = choose_sink(scenario, fast=args.fast, no_audio=args.no_audio)
    except NoDevice as exc:
        raise BadInput(str(exc)) from None
    # the set's folder is made once its port and device are known to be usable: a refused run writes nothing
    folder = args.out if args.out is not None else scenario.path(scenario.log_dir)
    made = missing_from(folder)
    check_folder(folder, "--out" if args.out is not None else f"{Path(args.scenario).name}: log_dir")
    if isinstance(sink, DeviceSink):
        detail += f"; the set at {raise_set_priority()}"
    face = http or stdio
    if face is not None and not sink.live and not args.fast:
        from bergain_actors.actors.streamer.sinks import ClockSink

        why = detail.split(": rendering")[0]
        api = "the HTTP API" if http else "the MCP client"
        sink, detail = ClockSink(scenario.sample_rate), f"{why}: playing to the WAV in real time for {api}"
    log = structlog.get_logger("set")
    wav_only = not isinstance(sink, DeviceSink) and not (args.fast or args.no_audio or not scenario.streamer.output)
    say = log.warning if wav_only else log.info
    say(detail, scenario=scenario.name, bars=scenario.total_bars(), bpm=scenario.bpm, seed=scenario.seed)
    tap, controls = front_end(args, scenario)
    if stdio is not None:  # stdin carries the protocol: no terminal commands
        controls = None

    def play() -> Awaitable[SetResult]:
        return perform(
            scenario,
            text,
            log_path=log_path,
            wav_path=wav_path,
            sink=sink,
            audio_detail=detail,
            scenario_path=str(args.scenario),
            on_event=tap,
            before_start=face.attach if face else None,
            controls=controls,
            beside=http,
            signals=True,
            render_worker=worker,
        )

    started = time.perf_counter()
    try:
        result = trio.run(stdio.around, play) if stdio else trio.run(play)
    except SetCannotContinue as exc:  # a full disk: the set stopped cleanly, the log says how far it got
        print(f"bergain-actors: {exc}", file=sys.stderr)
        return FAILED
    except OSError as exc:  # a missing pack, an --out that is a file: the user can fix these
        if not log_path.exists():  # refused before the set began (a pack with no usable sample): nothing is left
            unmake(folder, made)
        raise BadInput(f"{exc.filename or ''}: {exc.strerror or exc}" if exc.filename else str(exc)) from None
    except BaseException as exc:  # Ctrl-C reaches us wrapped in trio's exception groups
        if not stopped(exc):
            raise
        how = "terminated" if terminated(exc) else "interrupted"
        if not log_path.exists():  # stopped while the pack was read: nothing played, nothing is left
            unmake(folder, made)
            print(f"\n{how} before the set began: nothing was played or written", file=sys.stderr)
            return 143 if terminated(exc) else 130
        summary = Summary()  # the summary of what was played, read back from the closed log
        for event in LogReader(log_path):
            summary.add(event)
        print("\n".join(summary.lines()))
        print(f"\n{how}; the set so far is in\n  log  {log_path}\n  wav  {wav_path}", file=sys.stderr)
        if not args.no_report:
            print(f"  report {_report(log_path, None)}", file=sys.stderr)
        return 143 if terminated(exc) else 130
    wall = time.perf_counter() - started
    played = result.summary.bars_played * result.summary.seconds_per_bar
    print("\n".join(result.summary.lines()))
    speed = played / max(wall, 1e-9)
    print(f"time         {wall:.2f} s wall for {played / 60:.1f} min of music ({speed:.0f}× real time)")
    print(f"processes    {processes(result)}")
    print(f"log          {log_path}\nwav          {wav_path}")
    if not args.no_report:
        print(f"report       {_report(log_path, None)}")
    return OK


def processes(result: SetResult) -> str:
    """CPU time and peak RSS of this process and of the render worker, each measured apart (a tree's peak RSS,
    as ``wait4`` reports it, is only its largest process's)."""

    def used(usage: resource.struct_rusage) -> str:
        return f"{usage.ru_utime + usage.ru_stime:.2f} s CPU, peak RSS {usage.ru_maxrss / 1024:.0f} MB"

    line = f"this one {used(resource.getrusage(resource.RUSAGE_SELF))}"
    return line if result.render_worker is None else f"{line}; render worker {used(result.render_worker)}"


def http_frontend(address: str, token_env: str | None, default_host: str = "127.0.0.1") -> HttpFrontend:
    from bergain_actors.service.frontend import HttpFrontend, NeedsToken, parse_address

    host, port = "", 0
    try:
        host, port = parse_address(address, default_host)
        return HttpFrontend(host, port, api_token(token_env))
    except (ValueError, NeedsToken) as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        raise BadInput(f"--http: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def api_token(token_env: str | None) -> str | None:
    if token_env is None:
        return None
    token = os.environ.get(token_env, "")
    if not token:
        raise BadInput(f"--token-env: the environment variable {token_env} is not set or empty")
    return token


def cmd_serve(args: argparse.Namespace) -> int:
    from bergain_actors.service.frontend import NeedsToken, serve_router

    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port: expected a port 0-65535, got {args.port}")
    if args.scenario is not None:  # the same as run --http, so every run option keeps its default
        host = f"[{args.host}]" if ":" in args.host else args.host
        argv = ["run", args.scenario, "--http", f"{host}:{args.port}"]
        argv += ["--bars", str(args.bars)] if args.bars is not None else []
        argv += ["--minutes", str(args.minutes)] if args.minutes is not None else []
        argv += [flag for flag, on in (("--fast", args.fast), ("--no-audio", args.no_audio)) if on]
        argv += ["--out", str(args.out)] if args.out else []
        argv += ["--token-env", args.token_env] if args.token_env else []
        argv += [f"--allow-key-env={name}" for name in args.allow_key_env]
        return cmd_run(build_parser().parse_args(argv))
    refuse_set_flags("serve", args, ("bars", "minutes", "fast", "no_audio", "out"))
    scenario = allow_keys(scenarios.load(scenarios.DEFAULT_SCENARIO)[0], args.allow_key_env)
    token = api_token(args.token_env)
    try:
        trio.run(serve_router, scenario, args.host, args.port, token)
    except NeedsToken as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        raise BadInput(f"serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return OK


def refuse_set_flags(command: str, args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """Without a SCENARIO only the router answers: a set's flag given then would be ignored, so it is refused."""
    given = [name for name in names if getattr(args, name) is not None and getattr(args, name) is not False]
    if given:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise BadInput(f"{command}: {flags}: a set's; give the SCENARIO to play (without one the router alone answers)")


def cmd_mcp(args: argparse.Namespace) -> int:
    from bergain_actors.service.mcp_stdio import StdioFrontend, claim_stdio, serve_router_stdio

    if args.scenario is None:
        refuse_set_flags("mcp", args, ("bars", "minutes", "fast", "no_audio", "out", "no_report"))
        scenario, _ = scenarios.load(scenarios.DEFAULT_SCENARIO)
        trio.run(serve_router_stdio, scenario, claim_stdio())
        return OK
    argv = ["run", args.scenario, "--plain"]
    argv += ["--bars", str(args.bars)] if args.bars else []
    argv += ["--minutes", str(args.minutes)] if args.minutes else []
    flags = (("--fast", args.fast), ("--no-audio", args.no_audio), ("--no-report", args.no_report))
    argv += [flag for flag, on in flags if on]
    argv += ["--out", str(args.out)] if args.out else []
    run_args = build_parser().parse_args(argv)
    load_scenario(run_args)  # a bad scenario is exit 2 before the client's pipes are touched
    return cmd_run(run_args, StdioFrontend(claim_stdio()))


def cmd_clip(args: argparse.Namespace) -> int:
    from bergain_actors.music.clip import ClipError, parse_prompt
    from bergain_actors.service import client
    from bergain_actors.service.clips import write_clip_midi

    token = api_token(args.token_env)
    if (args.track or args.slot >= 0) and not args.url:
        raise BadInput("clip: --track/--slot write into Ableton through a running set: give its --url")
    try:
        parse_prompt(args.prompt)  # a prompt that cannot be a clip is refused before anything starts
        out = client.midi_target(args.midi, args.prompt, args.force) if args.midi or not args.url else None
        if args.url:
            to_set = client.run(client.playing, args.url, token)
            target = "ableton" if args.track or args.slot >= 0 else "set" if to_set else "none"
            body = {"prompt": args.prompt, "target": target, "track": args.track, "slot": args.slot}
            made = client.run(client.post, args.url, "/clip", body, token)
        else:
            scenario, _ = scenarios.load(args.scenario)
            made = client.run(client.clip_alone, scenario, args.prompt)
        if out is not None:
            bpm = scenarios.load(args.scenario)[0].bpm
            write_atomically(out, lambda file: write_clip_midi(made, bpm, file))
    except (ClipError, client.ApiError) as exc:
        raise BadInput(str(exc)) from None
    except httpx_errors() as exc:
        raise BadInput(f"clip: no set answers at {args.url} ({exc})") from None
    shown = " ".join(f"{n['pitch']}@{n['start']:g}" for n in made["notes"][:16])
    more = f" … ({len(made['notes'])} notes)" if len(made["notes"]) > 16 else ""
    print(f"{made['bars']}-bar {made['role']} clip in {made['key']}: {made['sounds']}")
    print(f"  {made['how']}")
    print(f"  {shown}{more}")
    if "from_bar" in made:
        print(f"plays in the set from bar {made['from_bar'] + 1} (event {made['seq']})")
    if out is not None:
        print(f"wrote {out}")
    return OK


def cmd_ask(args: argparse.Namespace) -> int:
    from bergain_actors.service import client

    if not args.question.strip():
        raise BadInput("ask: no question given")
    token = api_token(args.token_env)
    url = args.url or DEFAULT_URL
    body = {"question": args.question, "conversation": args.conversation}
    try:
        answer = client.run(client.post, url, "/ask", body, token)
        where = f"the set at {url}" if answer["context"].get("playing") else f"{url}, no set playing"
    except httpx_errors() as exc:
        if args.url:  # that set was asked for: an answer without it would be about no set
            raise BadInput(f"ask: no set answers at {args.url} ({exc})") from None
        scenario, _ = scenarios.load(args.scenario)
        answer = client.run(client.ask_alone, scenario, args.question)
        where = "no set playing"
    except client.ApiError as exc:
        raise BadInput(str(exc)) from None
    print(answer["answer"])
    command = answer.get("proposed")
    if command and where.startswith("the set") and sys.stdin.isatty():
        if input(f"send {command!r} to the set? [y/N] ").strip().lower() in ("y", "yes"):
            body = {"question": "yes", "conversation": args.conversation, "confirm": True}
            try:
                print(client.run(client.post, url, "/ask", body, token)["answer"])
            except client.ApiError as exc:
                raise BadInput(str(exc)) from None
    elif command:
        print(f"(proposed, not applied: {command!r}: send it to the set to confirm)")
    print(f"({where})", file=sys.stderr)
    return OK


def httpx_errors() -> tuple[type[Exception], ...]:
    import httpx

    return (httpx.ConnectError, httpx.ConnectTimeout)


def _report(log_path: Path, out: Path | None) -> Path | str:
    """Write the set's report; a report that cannot be written is a warning, never a lost set."""
    from bergain_actors.report import write_report

    try:
        return write_report(log_path, out)
    except (OSError, ValueError) as exc:
        return f"not written: {exc}"


def play_by_play(verbose: bool = False) -> Callable[[ev.Event], None]:
    """Plain human lines for a person watching (one per decision; refused moves only when ``verbose``)."""
    narrator = Narrator(verbose)

    def show(event: ev.Event) -> None:
        for line in narrator.lines(event):
            print(line, flush=True)

    return show


def json_lines() -> Callable[[ev.Event], None]:
    """``--log-format json``: every event as one JSON object per line on stderr (beside the log lines), for
    machines; stdout keeps the summary."""
    encode = msgspec.json.Encoder().encode

    def show(event: ev.Event) -> None:
        sys.stderr.write(encode(ev.comparable(event) | {"wall": event.wall}).decode() + "\n")
        sys.stderr.flush()

    return show


def front_end(args: argparse.Namespace, scenario: scenarios.Scenario) -> tuple[Any, Any]:
    """How this run talks to the person: (a tap on the bus, the controls task)."""
    from bergain_actors.display.board import Board
    from bergain_actors.display.live import dashboard, progress

    if args.log_format == "json":
        return json_lines(), console
    if args.quiet:
        return None, console
    if not sys.stdout.isatty() or args.plain:
        return play_by_play(args.verbose), console
    board = Board(args.verbose)
    board.phrase_bars = scenario.conductor.phrase_bars
    screen = Console()
    if args.fast:
        return board.add, lambda desk: progress(board, screen)
    return board.add, lambda desk: dashboard(desk, board, screen)


# --- replay and inspect -------------------------------------------------------------------------------------------


def open_log(path: Path) -> LogReader:
    if not path.exists():
        raise BadInput(f"{path}: no such log file")
    if not path.is_file():  # a FIFO would block the reader forever, a device would never end
        raise BadInput(f"{path}: not a regular file (a folder, FIFO or device); a log is a file")
    return LogReader(path)


def cmd_replay(args: argparse.Namespace) -> int:
    from bergain_actors import replay

    open_log(args.log)
    if args.pack is not None and not args.pack.is_dir():
        raise BadInput(f"--pack {args.pack}: {not_a_folder(args.pack)}")
    if args.out is not None and not args.swap:
        raise BadInput("--out: the what-if's folder, for --swap SLOT=KIND (--wav and --midi take file names)")
    if args.ableton is not None and (args.swap or args.wav or args.verify or args.midi):
        raise BadInput("--ableton performs the set into Live; replay it with --wav/--verify/--midi or --swap apart")
    if args.swap:
        return what_if(args)
    if args.ableton is not None:
        from bergain_actors.actors.ableton.reperform import into_live

        return into_live(args.log, args.ableton)
    if not args.wav and not args.verify and not args.midi:
        raise BadInput(
            "replay: say what to do: --wav OUT (re-render), --midi OUT (export MIDI), --verify (re-run the"
            " decisions) or --swap SLOT=KIND --out DIR (what-if)"
        )
    if args.wav_check and not args.verify:
        raise BadInput("--wav-check: compares a WAV with the bars --verify re-renders; add --verify")
    if args.wav_check and not args.wav_check.is_file():
        raise BadInput(f"--wav-check {args.wav_check}: no such file")
    if args.midi:
        check_output(args.midi, "--midi", force=args.force, inputs=(args.log,))
        if args.wav and args.wav.resolve() == args.midi.resolve():
            raise BadInput(f"--midi {args.midi}: the same file as --wav; choose another path")
    if args.wav:
        check_output(args.wav, "--wav", force=args.force, inputs=(args.log,))
    warn = structlog.get_logger("replay").warning
    verdicts: list[replay.Verdict] = []
    try:
        if args.midi:
            written, problem = write_atomically(args.midi, lambda out: replay.export_midi(args.log, out))
            if problem is not None:
                warn(problem.describe(args.log))
            for role, bars in written.unplayed.items():
                warn(f"{role}: no MIDI track plays this role; left out of {bars} bars")
            notes = ", ".join(f"{track} {count}" for track, count in written.notes.items())
            print(f"wrote {written.bars} bars of MIDI to {args.midi} (notes: {notes})")
        if args.wav:
            with replacing(args.wav) as partial:
                verdict = replay.render(args.log, partial, warn, pack=args.pack)
            verdicts.append(verdict)
            report(args.log, verdict, f"rendered {verdict.count()} to {args.wav}")
        if args.verify:
            verdict = replay.verify(args.log, warn, pack=args.pack, wav=args.wav_check)
            verdicts.append(verdict)
            also = f" and {args.wav_check} holds exactly their audio" if args.wav_check else ""
            report(args.log, verdict, f"verified: {verdict.count()} replayed identically{also}")
    except FileNotFoundError as exc:
        raise BadInput(str(exc)) from None
    if any(v.mismatch is not None for v in verdicts):
        return DIVERGED
    if not all(v.complete for v in verdicts) and not args.allow_partial:
        print("bergain-actors: the log is incomplete or damaged: exit 4 (--allow-partial accepts it)", file=sys.stderr)
        return INCOMPLETE
    return OK


def report(log: Path, verdict: Verdict, done: str) -> None:
    """One replay's outcome: the count on stdout; what is wrong with the log and the first mismatch on stderr."""
    tell_problems(log, verdict.problems)
    mismatch = verdict.mismatch
    if mismatch is not None:
        print(mismatch.describe(), file=sys.stderr)
        start = "the header" if mismatch.contradiction else "the start, before any event"
        where = f"bar {mismatch.bar}" if mismatch.bar >= 0 else f"seq {mismatch.seq}" if mismatch.seq else start
        checked = done.split(" replayed identically")[0].replace("verified: ", "checked ")
        print(f"not verified: {checked}; the first difference is at {where}")
    elif verdict.complete:
        print(done)
    elif done.startswith("verified: "):  # what was read replayed, but that is not the whole set: not "verified"
        print(f"partial: {done.removeprefix('verified: ')}; the log is incomplete or damaged")
    else:
        print(f"{done} (partial: the log is incomplete or damaged)")


def tell_problems(log: Path, problems: tuple[str, ...]) -> None:
    from bergain_actors.replay import located

    for problem in problems:
        print(f"bergain-actors: {located(log, problem)}", file=sys.stderr)


def what_if(args: argparse.Namespace) -> int:
    """``replay LOG --swap SLOT=KIND --out DIR``: the set again with another brain or critic, and what changed."""
    from bergain_actors import whatif

    if args.out is None:
        raise BadInput("--swap: say where the new set goes with --out DIR")
    check_folder(args.out, make=False)  # what_if makes it once the log is found whole
    if args.wav or args.verify or args.midi:
        raise BadInput("--swap plays a new set; replay the original with --wav/--verify/--midi separately")
    try:
        swaps = whatif.parse_swaps(args.swap)
        log, wav, diff = whatif.what_if(args.log, swaps, args.out, structlog.get_logger("replay").warning, args.pack)
    except whatif.IncompleteLog as exc:
        print(f"bergain-actors: {exc}", file=sys.stderr)
        return INCOMPLETE
    except whatif.WhatIfError as exc:
        raise BadInput(str(exc)) from None
    except FileNotFoundError as exc:
        raise BadInput(str(exc)) from None
    changes = ", ".join(f"{slot} → {kind}" for slot, kind in swaps.items())
    print(f"what-if ({changes}) played into\n  log  {log}\n  wav  {wav}")
    print("\n".join(diff.lines()))
    return OK


def check_folder(path: Path | None, flag: str = "--out", make: bool = True) -> None:
    """Make, before any work, a folder to write into, or refuse in one line naming ``flag``: a file, a path
    through a file, a folder that cannot be made or written into (else the set fails later, with a traceback).
    ``make=False`` refuses the files only, for a command that makes the folder once its other checks pass."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise BadInput(f"{flag} {path}: must be a folder, and that is a file")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise BadInput(f"{flag} {path}: must be a folder, and {blocker} is a file")
    if not make:
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{flag} {path}: cannot make the folder: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BadInput(f"{flag} {path}: cannot write into the folder: permission denied")


def missing_from(path: Path) -> Path | None:
    """The outermost folder of ``path`` that is not there yet (what making ``path`` creates), or None."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def unmake(path: Path, made: Path | None) -> None:
    """Remove the folders that making ``path`` created (up to ``made``), each only while it is empty."""
    if made is None:
        return
    for folder in (path, *path.parents):
        with contextlib.suppress(OSError):
            folder.rmdir()
        if folder == made:
            return


def cmd_report(args: argparse.Namespace) -> int:
    from bergain_actors.report import write_report

    open_log(args.log)
    check_folder(args.out)
    print(f"report       {write_report(args.log, args.out)}")
    return inspected(args.log, args.allow_partial, "reported")


def cmd_inspect(args: argparse.Namespace) -> int:
    reader = open_log(args.log)
    out = sys.stdout
    if args.json:
        encode = msgspec.json.Encoder().encode
        for event in reader:
            out.write(encode(msgspec.to_builtins(event)).decode() + "\n")
    else:
        summary = Summary()
        seed = None
        for event in reader:
            summary.add(event)
            if isinstance(event, ev.SetStarted) and seed is None:
                seed = event.seed
        header = reader.header
        version = f"format {reader.written_format}, bergain-actors {header.package_version}"
        if seed is not None and seed != header.seed:  # an edited header: the set announced its own seed
            print(f"bergain-actors: the header says seed {header.seed}; the set announced seed {seed}", file=sys.stderr)
        shown = header.seed if seed is None else seed
        out.write(f"log          {args.log} ({version})\n")
        out.write(f"scenario     {header.scenario_path or '?'}  seed {shown}  pack {header.pack_hash[:12]}\n")
        out.write("\n".join(summary.lines()) + "\n")
    return inspected(args.log, args.allow_partial)


def inspected(log: Path, allow_partial: bool, done: str = "inspected") -> int:
    """After ``inspect`` or ``report``: like replay, a log that is not whole says what is wrong, how much was read,
    and exits 4 (a page of a cut set is useful, but never taken for the whole set)."""
    from bergain_actors.replay import audit

    found = audit(log)
    if not found.problems:
        return OK
    tell_problems(log, found.problems)
    count = f"{done} {found.events} events, {found.bars} of {found.expected_bars} bars"
    print(f"bergain-actors: {count} (partial: the log is incomplete or damaged)", file=sys.stderr)
    if allow_partial:
        return OK
    print("bergain-actors: the log is incomplete or damaged: exit 4 (--allow-partial accepts it)", file=sys.stderr)
    return INCOMPLETE


# --- samples ------------------------------------------------------------------------------------------------------


def cmd_samples(args: argparse.Namespace) -> int:
    from bergain_actors.display.scan import scan_progress
    from bergain_actors.music.pack import PackTooBig, index_pack

    scenarios.check_flag(args.sample_rate, scenarios.SampleRate, "--sample-rate")
    if not args.path.is_dir():
        raise BadInput(f"{args.path}: {not_a_folder(args.path)}")
    err = Console(stderr=True, soft_wrap=True)  # a long path stays one line
    try:
        with scan_progress(err, str(args.path)) as progress:
            pack = index_pack(args.path, args.sample_rate, warn=lambda m: say_warning(err, m), progress=progress)
    except PackTooBig as exc:
        raise BadInput(str(exc)) from None
    print(pack.listing())
    print(f"content hash {pack.content_hash}")
    return OK


def say_warning(console: Console, message: str) -> None:
    """A warning on ``console`` (stderr), printed as it is: no markup, no highlighting."""
    console.print(f"warning: {message}", highlight=False, markup=False)


def cmd_intent(args: argparse.Namespace) -> int:
    from bergain_actors.music.intents import label
    from bergain_actors.service import client

    if not args.words.strip():
        raise BadInput("intent: no words given")
    scenario, _ = scenarios.load(args.scenario)
    found = client.run(client.intents_alone, scenario, args.words)
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
        return OK
    if not found["intents"]:
        print("nothing the vocabulary knows (a set varies something audible)")
    for intent in found["intents"]:
        print(f"{label(intent['kind'], intent.get('role', '')):<20} {intent['p']:.2f}")
    lm = found["lm"]
    how = f"the LM's calibrated choice ({lm['provider']}) among {', '.join(lm['options'])}" if lm else "code alone"
    print(found["fallback"] or f"read by {how}")  # the fallback says it was read by code alone, and why
    if found["command"]:
        print(f"in a set: {found['command']!r}")
    return OK


def cmd_providers(args: argparse.Namespace) -> int:
    from bergain_actors.actors.router.report import format_providers, probe_providers

    scenario, _ = scenarios.load(args.scenario)
    statuses = trio.run(lambda: probe_providers(scenario.router, base_dir=scenario.base_dir))
    print(format_providers(statuses, args.json))
    return OK


def cmd_check(args: argparse.Namespace) -> int:
    from bergain_actors.actors.ableton.check import NotUsable, check

    scenario, _ = scenarios.load(args.scenario)
    if scenario.ableton.kind != "osc":
        raise BadInput(
            f'check: {Path(args.scenario).name} plays without Live (ableton.kind = "{scenario.ableton.kind}"); check'
            ' a scenario with ableton.kind = "osc", e.g. scenarios/ableton.toml (the default)'
        )
    try:
        lines = trio.run(check, scenario.ableton)
    except NotUsable as exc:
        raise BadInput(f"check: {exc}") from None
    print("\n".join(lines))
    return OK


def cmd_devices(args: argparse.Namespace) -> int:
    from bergain_actors.actors.streamer.devices import NoDevice, listing, outputs

    try:
        print(listing(outputs()))
    except NoDevice as exc:
        print(f"no audio outputs: {exc}")
    return OK


def cmd_make_pack(args: argparse.Namespace) -> int:
    from bergain_actors.music.synth import write_pack

    check_folder(args.out, "make-pack")
    paths = write_pack(args.out)
    print(f"wrote {len(paths)} samples to {args.out}")
    return OK


if __name__ == "__main__":
    sys.exit(main())
