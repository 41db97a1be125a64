"""The AudioStreamer: renders each bar from its plan, hands it to the sink, writes the WAV, and never goes silent.

Plans are queued by bar (the Conductor keeps ``lookahead`` bars ahead). When the sink is live and bar N's plan is
not there when the device needs bar N, the streamer plays the last plan again (holding the groove), says so with
``BarHeld``, and drops the plan if it turns up later. Offline it simply waits for the plan. Each bar the sink has
taken becomes ``BarPlayed`` — the clock every other actor follows.
"""

from __future__ import annotations

from typing import Any

import msgspec
import trio

from bergain_actors.actors.streamer.sinks import OfflineSink, Played, Sink
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext
from bergain_actors.music.fingerprint import bar_checksum
from bergain_actors.music.hearing import hear
from bergain_actors.music.render import Renderer


class StreamerState:
    """What survives a restart of the streamer: the queue of plans and where playback is."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.pending: dict[int, ev.BarPlanned] = {}
        self.next_bar = 0
        self.last: ev.BarPlanned | None = None
        self.inflight = -1
        """The bar being rendered or played; if the streamer dies there, its restart holds that bar."""
        self.end = -1
        """The bar a ``stop`` ends the set before (-1: the set's own length)."""


class AudioStreamer(Actor):
    kind = "audio"
    subscribes = (ev.BarPlanned, ev.StopPlanned)
    deciding = False

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        durable = ctx.set.durable
        if "streamer" not in durable:
            renderer = Renderer(ctx.set.pack, ctx.scenario.sample_rate)
            renderer.prepare(ctx.scenario.bpm, ctx.scenario.beats_per_bar)
            durable["streamer"] = StreamerState(renderer)
        self.state: StreamerState = durable["streamer"]
        self.sink: Sink = ctx.set.sink or OfflineSink()
        self._arrived = trio.Event()

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.StopPlanned):
            self.state.end = event.end_bar
            self._arrived.set()
        if not isinstance(event, ev.BarPlanned):
            return
        bar = event.plan.bar
        if bar < self.state.next_bar:
            self.ctx.emit(ev.LatePlan(bar=bar, cause=event.seq))
            return
        self.state.pending[bar] = event
        self._arrived.set()

    async def run(self, inbox: Any) -> None:
        state = self.state
        if state.next_bar == 0 and state.inflight < 0:
            self.ctx.emit(ev.AudioStarted(device=self.sink.name, detail=self.ctx.set.audio_detail))
        total = self.ctx.set.total_bars
        while state.next_bar < (total if state.end < 0 else min(total, state.end)):
            bar = state.next_bar
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
            audio = state.renderer.render(msgspec.structs.replace(planned.plan, bar=bar) if held else planned.plan)
            state.next_bar, state.last, state.inflight = bar + 1, planned, -1
            played = await self.sink.play(audio)
            stats = state.renderer.last_stats
            self.ctx.emit(
                ev.BarPlayed(
                    plan_seq=planned.seq,
                    held=held,
                    bar=bar,
                    peak=round(stats.peak, 6) if stats else 0.0,
                    rms=round(stats.rms, 6) if stats else 0.0,
                    gain_reduction_db=round(stats.gain_reduction_db, 3) if stats else 0.0,
                    checksum=bar_checksum(audio),
                    heard=hear(audio, state.renderer.sample_rate, planned.plan.beats_per_bar),
                )
            )
            if self.ctx.set.wav is not None:  # log first: the WAV never holds a bar the log lacks, even if killed
                self.ctx.bus.write_through()
                self.ctx.set.wav.write(audio)
            self._report(bar, played)
        await trio.sleep_forever()

    def _report(self, bar: int, played: Played) -> None:
        """What went wrong on the way out becomes events (and, when the device comes or goes, a warning)."""
        if played.underflows:
            self.ctx.emit(ev.AudioUnderflow(count=played.underflows, silent_ms=played.silent_ms, bar=bar))
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
