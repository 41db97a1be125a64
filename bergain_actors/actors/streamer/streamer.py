"""The AudioStreamer: renders each bar from its plan, hands it to the sink, writes the WAV, and never goes silent.

Plans are queued by bar (the Conductor keeps ``lookahead`` bars ahead). When the sink is live and bar N's plan is
not there when the device needs bar N, the streamer plays the last plan again (holding the groove), says so with
``BarHeld``, and drops the plan if it turns up later. Offline it simply waits for the plan. Each bar the sink has
taken becomes ``BarPlayed`` — the clock every other actor follows.

On a device or for Live (``Sink.ahead``), bar N+1 renders in a worker thread while bar N plays (as soon as its
plan is there), so a bar slow to render (a new section's cold loops, a starved machine) costs none of the device's
margin: when the device asks for N+1 it is handed over at once. The renderer still renders every bar once, in
order: the same bytes.

Offline with a render worker (``render_worker``: ``run --fast``), the renderer is in a child process: each plan is
sent to it as soon as it is there (a few bars ahead), and the bars come back in order, so it renders the next bars
while this process's actors work on this one. Once sent, a bar's plan is final (another plan for it is a
``LatePlan``). A worker that fails is replaced by a renderer in this process (``RenderWorkerLost``), the same bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import trio

from bergain_actors.actors.streamer.link_session import LinkTimeline
from bergain_actors.actors.streamer.render_worker import RenderWorker, WorkerLost, plan_of
from bergain_actors.actors.streamer.sinks import OfflineSink, Played, Sink
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.music.fingerprint import bar_checksum
from bergain_actors.music.hearing import hear
from bergain_actors.music.plan import BarPlan
from bergain_actors.music.render import Mastering, Renderer, RenderStats


class StreamerState:
    """What survives a restart of the streamer: the queue of plans and where playback is."""

    def __init__(self, renderer: Renderer | None, worker: RenderWorker | None, sample_rate: int) -> None:
        self.renderer = renderer
        """None while the render worker renders."""
        self.worker = worker
        self.mastering = Mastering(sample_rate)
        """The end of the master bus for the bars the worker mixes (the renderer has its own)."""
        self.asked: list[bytes] = []
        """What the worker was asked to render, bar by bar from the first (a few kB a bar): renders them again."""
        self.pending: dict[int, ev.BarPlanned] = {}
        self.next_bar = 0
        self.last: ev.BarPlanned | None = None
        self.inflight = -1
        """The bar being rendered or played; if the streamer dies there, its restart holds that bar."""
        self.end = -1
        """The bar a ``stop`` ends the set before (-1: the set's own length)."""
        self.timeline: LinkTimeline | None = None
        """Where our bars sound on the Link session's timeline (with ``[link]`` on)."""
        self.tempos: set[tuple[float, int]] = set()
        """Tempos (and meters) the renderer has rendered at: a new one renders off the trio thread."""
        self.plan_bpm = 0.0
        """The tempo of the last plan played: a plan at another tempo is a change of ours, shared with Link."""
        self.ahead: Rendered | None = None
        """The next bar, rendered while the one before it played."""


class Rendered(msgspec.Struct, frozen=True):
    """A bar ready for the sink, with what its ``BarPlayed`` says about it."""

    bar: int
    planned: ev.BarPlanned
    held: bool
    audio: np.ndarray
    """As rendered: what the log's checksum, the hearing and the WAV are of."""
    stats: RenderStats | None
    out: np.ndarray
    """What the sink plays: the audio, placed on the Link session's phase with ``[link]`` on."""
    checksum: int


class AudioStreamer(Actor):
    kind = "audio"
    subscribes = (ev.BarPlanned, ev.StopPlanned)
    deciding = False

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        durable = ctx.set.durable
        self.sink: Sink = ctx.set.sink or OfflineSink()
        if "streamer" not in durable:
            worker = ctx.set.render_worker if not self.sink.live and not ctx.set.link else None
            rate = ctx.scenario.sample_rate
            durable["streamer"] = StreamerState(None if worker else self._renderer(), worker, rate)
            durable["streamer"].tempos.add((ctx.scenario.bpm, ctx.scenario.beats_per_bar))
        self.state: StreamerState = durable["streamer"]
        self._arrived = trio.Event()

    def _renderer(self) -> Renderer:
        renderer = Renderer(self.ctx.set.pack, self.ctx.scenario.sample_rate)
        renderer.prepare(self.ctx.scenario.bpm, self.ctx.scenario.beats_per_bar)
        return renderer

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.StopPlanned):
            self.state.end = event.end_bar
            self._arrived.set()
        if not isinstance(event, ev.BarPlanned):
            return
        bar = event.plan.bar
        if bar < max(self.state.next_bar, len(self.state.asked)):
            self.ctx.emit(ev.LatePlan(bar=bar, cause=event.seq))
            return
        self.state.pending[bar] = event
        self._arrived.set()

    async def _render(self, plan: BarPlan, in_thread: bool = False) -> tuple[np.ndarray, RenderStats | None]:
        """Render a bar; ahead of time or the first bar at a new tempo in a worker thread, because stretching its
        loops to the tempo takes a bar's length or more on a loaded machine, and the set's other actors (Live's
        beat, clips to fire, the device's next bar) must not wait on it. The result is the same bytes either way."""
        state = self.state
        renderer = state.renderer
        assert renderer is not None
        if (plan.bpm, plan.beats_per_bar) in state.tempos and not in_thread:
            return renderer.render(plan), renderer.last_stats
        audio = await trio.to_thread.run_sync(renderer.render, plan)
        state.tempos.add((plan.bpm, plan.beats_per_bar))
        return audio, renderer.last_stats

    async def run(self, inbox: Any) -> None:
        state = self.state
        if state.next_bar == 0 and state.inflight < 0:
            self.ctx.emit(ev.AudioStarted(device=self.sink.name, detail=self.ctx.set.audio_detail))
        while state.next_bar < self._end():
            bar = state.next_bar
            ready, state.ahead = state.ahead, None
            if ready is None or ready.bar != bar:
                self._ask_worker(bar)
                planned = state.pending.pop(bar, None)
                lost = state.inflight == bar
                if planned is None and not lost and (not self.sink.live or state.last is None):
                    await self._wait_for(bar)
                    continue
                held = planned is None
                if held:
                    if state.last is None:
                        await self._wait_for(bar)
                        continue
                    planned = state.last
                    self.ctx.emit(ev.BarHeld(plan_seq=planned.seq, bar=bar))
                state.inflight = bar
                ready = await self._render_bar(bar, planned, held)
            state.next_bar, state.last, state.inflight = bar + 1, ready.planned, -1
            played = await self._play(ready)
            stats = ready.stats
            self.ctx.emit(
                ev.BarPlayed(
                    plan_seq=ready.planned.seq,
                    held=ready.held,
                    bar=bar,
                    peak=round(stats.peak, 6) if stats else 0.0,
                    rms=round(stats.rms, 6) if stats else 0.0,
                    gain_reduction_db=round(stats.gain_reduction_db, 3) if stats else 0.0,
                    checksum=ready.checksum,
                    heard=hear(ready.audio, self.ctx.scenario.sample_rate, ready.planned.plan.beats_per_bar),
                )
            )
            self._ask_worker(bar + 1, reading=bar)  # the plan this bar made: rendered while this one is written
            if self.ctx.set.wav is not None:  # log first: the WAV never holds a bar the log lacks, even if killed
                self.ctx.bus.write_through()
                self.ctx.set.wav.write(ready.audio)
            self._report(bar, played)
            if played.anchor_frame >= 0 and state.timeline is not None:
                state.timeline.anchor(played.anchor_frame, played.anchor_us)
        await trio.sleep_forever()

    def _end(self) -> int:
        total = self.ctx.set.total_bars
        return total if self.state.end < 0 else min(total, self.state.end)

    async def _render_bar(self, bar: int, planned: ev.BarPlanned, held: bool, ahead: bool = False) -> Rendered:
        plan = msgspec.structs.replace(planned.plan, bar=bar) if held else planned.plan
        tempo = self._link_tempo(plan.bpm) if self.ctx.set.link else plan.bpm
        plan = plan if tempo == plan.bpm else msgspec.structs.replace(plan, bpm=tempo)
        worker = self.state.worker
        if worker is not None and held:  # the streamer restarted mid-bar: the worker rendered the bar's own plan
            self._lose_worker(bar, "the streamer restarted mid-bar; its bar is held")
        elif worker is not None and bar < len(self.state.asked):
            try:
                done = worker.take(bar)
            except WorkerLost as lost:
                self._lose_worker(bar, str(lost))
            else:
                audio = worker.slots.floats(bar, done.frames)
                stats = self.state.mastering.finish(audio, bar, done.skipped_layers, done.skipped_hits)
                return Rendered(bar, planned, held, audio, stats, audio, bar_checksum(audio))
        audio, stats = await self._render(plan, in_thread=ahead)
        out = self._on_link(bar, tempo, audio) if self.ctx.set.link else audio
        return Rendered(bar, planned, held, audio, stats, out, bar_checksum(audio))

    def _ask_worker(self, bar: int, reading: int | None = None) -> None:
        """Send the render worker every plan there is for bars it has not been asked for, up to ``SLOTS`` bars from
        ``reading`` (the bar whose slot is still being read; by default ``bar``, the bar to play next: the slot of a
        bar after those is still being read), in order."""
        state, worker = self.state, self.state.worker
        if worker is None:
            return
        asked = state.asked
        first = bar if reading is None else reading
        while len(asked) < min(first + worker.SLOTS, self._end()) and len(asked) in state.pending:
            try:
                asked.append(worker.send(len(asked), state.pending[len(asked)].plan))
            except WorkerLost as lost:
                self._lose_worker(bar, str(lost))
                return

    def _lose_worker(self, bar: int, reason: str) -> None:
        """The worker is gone (or given up on) before ``bar``: render here from now on, the bars before ``bar``
        rendered again first (unheard), so the renderer's state and the bytes are what the worker's would be."""
        state = self.state
        assert state.worker is not None
        state.worker.kill()
        state.worker = None
        self.ctx.emit(ev.RenderWorkerLost(bar=bar, reason=reason))
        self.ctx.log.warning("render worker lost: rendering in the set's process from here (same bytes)", bar=bar,
                             reason=reason)  # fmt: skip
        renderer = state.renderer = self._renderer()
        for message in state.asked[:bar]:
            renderer.render(plan_of(message))
        state.asked = []

    async def _play(self, ready: Rendered) -> Played:
        """Hand ``ready`` to the sink; on a device (without Link, whose phase is read when a bar renders) render the
        next bar meanwhile. A render under way when the sink has taken the bar is waited for, never abandoned: the
        renderer carries state from bar to bar."""
        if not self.sink.ahead or self.ctx.set.link:
            return await self.sink.play(ready.out)
        waiting = trio.CancelScope()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._render_ahead, ready.bar + 1, waiting)
            played = await self.sink.play(ready.out)
            waiting.cancel()
        return played

    async def _render_ahead(self, bar: int, waiting: trio.CancelScope) -> None:
        with waiting:
            await self._wait_for(bar)
        state = self.state
        if bar >= self._end() or bar not in state.pending:
            return  # the bar's plan is late (the streamer holds when the device needs it) or the set ends first
        state.inflight = bar
        state.ahead = await self._render_bar(bar, state.pending.pop(bar), held=False, ahead=True)
        state.inflight = -1

    def _link_tempo(self, bpm: float) -> float:
        """The tempo to render the next bar at: the Link session's, after sharing a change of ours (a plan at
        another tempo than the last one played, that the session does not have yet)."""
        state = self.state
        if state.timeline is None:
            state.timeline = LinkTimeline(self.ctx.set.link, self.ctx.scenario.sample_rate)
        session = state.timeline.session
        if state.plan_bpm and bpm != state.plan_bpm and abs(bpm - session.tempo()) > 0.005:
            session.share_tempo(bpm, at=state.timeline.next_start())
        state.plan_bpm = bpm
        return round(session.tempo(), 2)

    def _on_link(self, bar: int, tempo: float, audio: np.ndarray) -> np.ndarray:
        """Place the bar on the session's phase; ``LinkBeat`` logs where, and the tempo it was rendered at."""
        timeline = self.state.timeline
        assert timeline is not None
        shifted, beat, start, shift = timeline.place(audio)
        rate = self.ctx.scenario.sample_rate
        self.ctx.emit(
            ev.LinkBeat(
                bar=bar,
                tempo=tempo,
                beat=beat,
                micros=start,
                shift_ms=round(shift * 1000 / rate, 3),
                peers=timeline.session.peers(),
            )
        )
        return shifted

    def _report(self, bar: int, played: Played) -> None:
        """What went wrong on the way out becomes events (and, when the device comes or goes, a warning)."""
        if played.underflows or played.server_xruns:
            self.ctx.emit(
                ev.AudioUnderflow(
                    count=played.underflows,
                    silent_ms=played.silent_ms,
                    xruns=played.xruns,
                    server_xruns=played.server_xruns,
                    bar=bar,
                )
            )
        if played.underflows:
            self.ctx.log.warning(
                "audio underflow: the device ran short of the set's audio",
                bar=bar,
                count=played.underflows,
                silent_ms=played.silent_ms,
            )
        if played.server_xruns:
            self.ctx.log.warning(
                "audio server xrun: not ours (our audio was ready, our callback quick)",
                bar=bar,
                count=played.server_xruns,
            )
        if played.lost:
            self.ctx.emit(ev.AudioDeviceChanged(status="lost", device=self.sink.name, reason=played.lost, bar=bar))
            self.ctx.log.warning("audio device lost: playing on to the WAV", bar=bar, reason=played.lost)
        if played.resumed:
            back = ev.AudioDeviceChanged(status="resumed", device=self.sink.name, reason=played.resumed, bar=bar)
            self.ctx.emit(back)
            self.ctx.log.warning("audio device back", bar=bar, detail=played.resumed)

    async def _wait_for(self, bar: int) -> None:
        while bar not in self.state.pending and not 0 <= self.state.end <= bar:
            self._arrived = trio.Event()
            await self._arrived.wait()
