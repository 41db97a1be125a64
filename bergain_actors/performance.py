"""Running one set: load the pack, open the log and the WAV, start the actors, play to the end, close everything.

This is where the world meets the core: file paths, the audio device, the wall clock for the log's name.
"""

from __future__ import annotations

import itertools
import os
import resource
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog
import trio

from bergain_actors import __version__
from bergain_actors.actors.conductor.autopilot import PHASE_ROLES
from bergain_actors.actors.conductor.base import tempo_limits
from bergain_actors.actors.streamer.devices import NoDevice
from bergain_actors.actors.streamer.link_session import LinkSession
from bergain_actors.actors.streamer.render_worker import RenderWorker, WorkerLost
from bergain_actors.actors.streamer.sinks import DeviceSink, OfflineSink, Sink, WavBehind, WavWriter
from bergain_actors.control import osc
from bergain_actors.control.desk import Desk
from bergain_actors.core import events as ev
from bergain_actors.core.actor import ASKS_AN_LM, SLOT_ORDER, SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.fatal import SetCannotContinue
from bergain_actors.core.log import LogHeader, LogWriter
from bergain_actors.core.scenario import Scenario
from bergain_actors.core.summary import Summary
from bergain_actors.core.supervisor import Supervisor
from bergain_actors.identity import source_hash
from bergain_actors.music import arrangement
from bergain_actors.music.mixer import menu_from_pack, off_key
from bergain_actors.music.pack import SamplePack, index_pack
from bergain_actors.music.shared_audio import SharedAudio
from bergain_actors.music.theory import DEFAULT_KEY

log = structlog.get_logger("set")

_PACKS: dict[tuple[str, int], SamplePack] = {}


def load_pack(
    scenario: Scenario, warn: Callable[[str], None] | None = None, shared: SharedAudio | None = None
) -> SamplePack:
    """The scenario's sample pack, decoded once per process (tests and replays reuse it); with ``shared``, decoded
    into it (a render worker's: ``index_pack``) unless it was decoded before."""
    root = scenario.path(scenario.sample_pack).resolve()
    key = (str(root), scenario.sample_rate)
    if not root.is_dir():  # even when decoded before: the folder may have moved since
        raise FileNotFoundError(f"sample_pack: no such folder: {root}")
    if key not in _PACKS:
        warn = warn or (lambda m: log.warning("sample skipped", why=m))
        pack = index_pack(root, scenario.sample_rate, warn=warn, shared=shared)
        if not pack.samples:
            raise FileNotFoundError(f"sample_pack: no usable samples in {root}")
        _PACKS[key] = pack
    return _PACKS[key]


def pack_lacks(pack: SamplePack, key: str) -> list[ev.PackLacks]:
    """What of the set ``pack`` has nothing to make of, in ``key`` (the Conductor's menu): to be said at start.
    A role the arc asks for with no sample at all (a pack without kicks) is a set without it."""
    menu = menu_from_pack(pack, key)
    arc_roles = dict.fromkeys(role for roles in PHASE_ROLES.values() for role in roles)
    lacks = [
        ev.PackLacks(part="arc", need=f"{role} sample", cost=f"the set plays without a {role}")
        for role in arc_roles
        if not menu.get(role)
    ]
    if arrangement.bed_sample(menu) is None:
        cost = "the set plays without its stereo bed, so it is narrower"
        lacks.append(ev.PackLacks(part="bed", need="texture loop", cost=cost))
    return lacks


LM_FLOORS = {"conductor": "autopilot", "critic": "arc"}
"""What decides in a slot whose LM kind has no LM: the floor under every LM brain, the llm critic's own rules."""


def lm_lacking(scenario: Scenario) -> list[ev.LMLacking]:
    """The slots whose kind asks an LM that no provider could ever answer: none is listed, the router could use
    none of them (a key variable unset, the embedded model missing) and none is looked for (``router.auto``)."""
    asking = [(slot, getattr(scenario, slot).kind) for slot in LM_FLOORS]
    asking = [(slot, kind) for slot, kind in asking if kind in ASKS_AN_LM[slot]]
    if not asking or scenario.router.auto:
        return []
    from bergain_actors.actors.router.providers import ConfigError, build  # httpx and jsonschema: only if needed

    unusable = []
    for config in scenario.router.providers:
        try:
            build(config, scenario.path)
        except ConfigError as exc:
            unusable.append(f"{config.name}: {exc}")
        else:
            return []
    reason = "; ".join(unusable) if unusable else "no [router] providers"
    return [ev.LMLacking(slot=slot, kind=kind, reason=reason, plays=LM_FLOORS[slot]) for slot, kind in asking]


def slots_of(scenario: Scenario) -> tuple[str, ...]:
    """The slots a scenario fills, in delivery order."""
    wanted = ["conductor", "critic", "streamer"]
    if scenario.router.providers or scenario.router.auto or scenario.conductor.kind in ("phrase", "rlm"):
        wanted.append("router")
    if scenario.ableton.kind not in ("none", "off"):
        wanted.append("ableton")
    return tuple(s for s in SLOT_ORDER if s in wanted)


@dataclass
class SetResult:
    log_path: Path
    wav_path: Path
    summary: Summary
    audio: str
    interrupted: bool = False
    events: list[ev.Event] = field(default_factory=list)
    render_worker: resource.struct_rusage | None = None
    """What the render worker process used (CPU time, peak RSS), when the set rendered in one."""


class Beside(Protocol):
    """A front end that outlives its set for a moment (the HTTP API): it tells its clients the set ended."""

    async def serve(self, desk: Desk | None = None) -> None: ...

    async def finish(self) -> None: ...


LINGER_S = 2.0
"""How long a front end ``beside`` the set may take, after ``SetEnded``, to tell its clients."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the set stops as it does on Ctrl-C (``SetEnded`` logged, the WAV header written)."""


async def raise_on_signal(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Ctrl-C and SIGTERM always reach the set, even when it was started with them blocked (a mask is inherited:
    a parent that blocked SIGINT made Ctrl-C do nothing while the set played on). Started before anything else,
    so a Ctrl-C typed as soon as the screen shows is not lost: a signal both ignored and blocked is dropped."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for number in signals:
            raise Terminated if number == signal.SIGTERM else KeyboardInterrupt


def terminated(exc: BaseException) -> bool:
    """Whether ``exc`` (possibly grouped) holds a ``Terminated``."""
    if isinstance(exc, BaseExceptionGroup):
        return any(terminated(inner) for inner in exc.exceptions)
    return isinstance(exc, Terminated)


async def _front_end(controls: Callable[[Desk], Awaitable[None]], desk: Desk) -> None:
    """Run a front end (terminal, display, HTTP); if it fails, the music does not: it is said and the set plays
    on without it."""
    try:
        await controls(desk)
    except Exception as exc:
        log.warning("the control front end failed; the set plays on without it", error=f"{type(exc).__name__}: {exc}")


def stopped(exc: BaseException) -> bool:
    """Whether ``exc`` (possibly grouped by trio's nurseries) only says the set was stopped from outside."""
    if isinstance(exc, BaseExceptionGroup):
        return all(stopped(inner) for inner in exc.exceptions)
    return isinstance(exc, KeyboardInterrupt | trio.Cancelled)


def start_render_worker(scenario: Scenario) -> RenderWorker | None:
    """The child process an offline set renders in, or None (then it renders in its own; said in the log)."""
    worker = RenderWorker.start(scenario.sample_rate)
    if isinstance(worker, str):
        log.info("rendering in the set's process", why=worker)
        return None
    return worker


def set_paths(scenario: Scenario, out_dir: Path | None, stamp: str | None = None) -> tuple[Path, Path]:
    """The set's log and WAV. Named by the time (no ``stamp``), a name another set took in the same second gets
    ``-2``, ``-3``...: the set plays, where it was refused with "File exists"."""
    folder = (out_dir if out_dir is not None else scenario.path(scenario.log_dir)).resolve()
    stem = f"{_slug(scenario.name)}-{stamp or time.strftime('%Y%m%d-%H%M%S')}-seed{scenario.seed}"
    if stamp is None:
        names = itertools.chain([stem], (f"{stem}-{n}" for n in itertools.count(2)))
        stem = next(s for s in names if not (folder / f"{s}.bgnlog").exists() and not (folder / f"{s}.wav").exists())
    return folder / f"{stem}.bgnlog", folder / f"{stem}.wav"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower()).strip("-") or "set"


def choose_sink(scenario: Scenario, *, fast: bool, no_audio: bool) -> tuple[Sink, str]:
    """The sink for this run and a sentence for the user saying where the audio goes. A device the scenario
    (or ``--device``) names that cannot play raises ``NoDevice``: asked for, it is never silently skipped."""
    if fast:
        return OfflineSink(), "--fast: rendering to the WAV as fast as decisions come (no speakers)"
    if no_audio or not scenario.streamer.output:
        return OfflineSink(), "audio output off: rendering to the WAV only"
    wanted = scenario.streamer.device
    opened = DeviceSink.open(wanted, scenario.sample_rate)
    if isinstance(opened, str):
        if wanted:
            raise NoDevice(f"streamer.device: {wanted!r} cannot be used: {opened}")
        return OfflineSink(), f"{opened}: rendering to the WAV as fast as decisions come"
    return opened, opened.detail


async def perform(
    scenario: Scenario,
    scenario_text: str,
    *,
    log_path: Path,
    wav_path: Path,
    sink: Sink | None = None,
    audio_detail: str = "",
    scenario_path: str = "",
    keep_events: bool = False,
    on_event: Callable[[ev.Event], None] | None = None,
    before_start: Callable[[Supervisor], None] | None = None,
    controls: Callable[[Desk], Awaitable[None]] | None = None,
    beside: Beside | None = None,
    signals: bool = False,
    render_worker: RenderWorker | bool = False,
) -> SetResult:
    """Play one set to its end (or until cancelled / interrupted); the log and WAV are closed properly either way.
    ``signals`` (main thread only): Ctrl-C and SIGTERM stop the set at its tasks' next checkpoints, never in the
    middle of a cascade, so the log, the actors and the WAV all stop after the same event. ``beside`` (the HTTP
    API) serves from before the first bar until its clients have been told the set ended (at most ``LINGER_S``
    after ``SetEnded``): nothing it is asked after the end is logged. ``render_worker`` (True, or one started early):
    a set that is not paced by a clock renders in a child process beside this one (``streamer.render_worker``)."""
    sink = sink or OfflineSink()
    worker = render_worker if isinstance(render_worker, RenderWorker) else None
    if worker is None and render_worker and not sink.live and scenario.ableton.kind != "osc":
        worker = start_render_worker(scenario)  # before the pack: the set decodes it into the worker's memory
    try:
        pack = load_pack(scenario, shared=worker.audio if worker is not None else None)
    except BaseException:
        if worker is not None:
            worker.close()
        raise
    key = scenario.key or DEFAULT_KEY
    unfit = off_key(pack, key)  # those roles play their nearest samples: said, logged, counted
    for role in unfit:
        log.warning(f"no {role} sample fits {key}; the set plays the nearest ones", role=role, key=key)
    lacks = pack_lacks(pack, key)  # parts of the set the pack cannot make: said, logged, counted
    for lack in lacks:
        log.warning(f"the pack at {pack.root} has no {lack.need} for the {lack.part}: {lack.cost}", part=lack.part)
    lacking = lm_lacking(scenario)  # the conductor's allowed by its fallback (the command line refuses it otherwise)
    for lack in lacking:
        log.warning(f"{lack.who()} has no LM ({lack.reason}): {lack.plays} plays in its place")
    surface = None
    if scenario.control.osc_port is not None:  # bound before the log exists: a taken port costs nothing
        surface = await osc.listen(scenario.control.osc_host, scenario.control.osc_port)
    set_ctx = SetContext(scenario, fast=not sink.live, total_bars=scenario.total_bars(), pack=pack)
    if scenario.ableton.kind == "osc":  # Live's beat is the clock; our audio is the monitor and the fallback
        from bergain_actors.actors.ableton.actor import clocked_by_live

        sink = clocked_by_live(set_ctx, sink)
        set_ctx.fast = False
    set_ctx.sink = sink
    set_ctx.audio_detail = audio_detail
    if scenario.link.enabled and sink.live:
        set_ctx.link = LinkSession(scenario.bpm, scenario.link.quantum)
    elif scenario.link.enabled:
        log.warning("link: a set rendered as fast as it can has no beat to share; not joining the Link session")
    header = LogHeader(
        package_version=__version__,
        scenario_path=scenario_path,
        scenario_text=scenario_text,
        resolved=scenario.to_builtins(),
        seed=scenario.seed,
        pack_hash=pack.content_hash,
        sample_rate=scenario.sample_rate,
        created=time.time(),
        source_hash=source_hash(),
        base_dir=os.path.relpath(Path(scenario.base_dir or ".").resolve(), log_path.parent.resolve()),
    )
    writer = LogWriter.create(log_path, header, scenario.fsync)
    unshared = ""  # why the worker could not take the set's pack: said as a RenderWorkerLost at bar 0
    if worker is not None and not sink.live and set_ctx.link is None:
        try:
            worker.share(pack, scenario.bpm, scenario.beats_per_bar)
            set_ctx.render_worker = worker
        except WorkerLost as lost:
            worker.close()
            unshared = str(lost)
            log.warning("rendering in the set's process: the render worker is gone", why=unshared)
    elif worker is not None:
        worker.close()
    try:
        wav = WavWriter(wav_path, scenario.sample_rate)
        # With a render worker this thread has time to write the WAV itself: a thread of its own would take the GIL
        # from it at every bar (measured: 0.2-0.4 s less CPU and wall over the 60-minute autopilot set without it).
        set_ctx.wav = wav if set_ctx.render_worker is not None else WavBehind(wav)
    except SetCannotContinue:
        writer.close()
        if set_ctx.render_worker is not None:
            set_ctx.render_worker.close()
        raise
    bus = Bus(writer)
    summary = Summary()
    result = SetResult(log_path, wav_path, summary, sink.name)
    bus.taps.append(summary.add)
    if keep_events:
        bus.taps.append(result.events.append)
    if on_event is not None:
        bus.taps.append(on_event)
    supervisor = Supervisor(bus, set_ctx, slots_of(scenario))
    reason = "complete"
    ended = False

    def end() -> None:
        nonlocal ended
        if not ended:
            ended = True
            bus.publish(ev.SetEnded(reason=reason, bars_played=supervisor.bars_played), source="supervisor")

    try:
        supervisor.create_all()
        if before_start is not None:
            before_start(supervisor)
        async with trio.open_nursery() as outer:
            if beside is not None:
                outer.start_soon(_front_end, beside.serve, None)
            try:
                async with trio.open_nursery() as nursery:
                    if signals:
                        await nursery.start(raise_on_signal)
                    nursery.start_soon(bus.committer)
                    supervisor.start(nursery)
                    bus.publish(set_ctx.started(), source="supervisor")
                    for role in unfit:
                        bus.publish(ev.KeyUnfit(role=role, key=key), source="supervisor")
                    for lack in lacks:
                        bus.publish(lack, source="supervisor")
                    for lack in lacking:
                        bus.publish(lack, source="supervisor")
                    for sample, why in pack.skipped.items():
                        bus.publish(ev.SampleSkipped(sample=sample, reason=why), source="supervisor")
                    if unshared:
                        bus.publish(ev.RenderWorkerLost(bar=0, reason=unshared), source="supervisor")
                    desk = Desk(bus, tempo_limits=tempo_limits(scenario.bpm))
                    if surface is not None:
                        await nursery.start(osc.serve, desk, surface)
                    if controls is not None:
                        nursery.start_soon(_front_end, controls, desk)
                    await supervisor.done.wait()
                    reason = supervisor.end_reason
                    nursery.cancel_scope.cancel()
            except BaseException as exc:
                reason = "interrupted" if stopped(exc) else "error"
                raise
            finally:
                end()
                if beside is not None:
                    with trio.move_on_after(LINGER_S) as linger:
                        linger.shield = True
                        await beside.finish()
                outer.cancel_scope.cancel()
    except BaseException as exc:
        reason = "interrupted" if stopped(exc) else "error"
        result.interrupted = reason == "interrupted"
        raise
    finally:
        end()
        if surface is not None:
            surface.close()
        supervisor.close()
        sink.close()
        if set_ctx.render_worker is not None:
            set_ctx.render_worker.close()
            result.render_worker = set_ctx.render_worker.usage
        if set_ctx.link is not None:
            set_ctx.link.leave()
        set_ctx.wav.close()
        writer.close()
    failure = supervisor.failure or (f"cannot write the log: {writer.failure.strerror}" if writer.failure else "")
    failure = failure or str(set_ctx.wav.failure or "")
    if failure:
        raise SetCannotContinue(f"{failure}; the set stopped after {supervisor.bars_played} bars (log: {log_path})")
    return result
