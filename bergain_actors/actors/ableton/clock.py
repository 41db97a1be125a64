"""Live's beat as the set's clock, and the sink that paces our streamer by it.

The AbletonLink actor feeds ``LiveClock`` with beats it has already published as ``LiveBeat`` events; the
``LiveClockSink`` hands the streamer's bars over when Live reaches them, so ``BarPlayed`` — the clock every actor
follows — is Live's bar line and the monitor WAV cannot drift from what Live plays. The sink never waits on a UDP
reply: when Live's bar does not come by our own clock's deadline (Live is gone, or not there yet) it goes on at
its own pace, so the music never stops; it rejoins Live when the actor has resynced (a new ``epoch``).
"""

from __future__ import annotations

import numpy as np
import trio

from bergain_actors.actors.streamer.sinks import ClockSink, Played, Sink


class LiveClock:
    """Where Live is, as far as logged events say. Written by the actor, read by the sink; no I/O."""

    def __init__(self, beats_per_bar: int, bar_seconds: float) -> None:
        self.beats_per_bar = beats_per_bar
        self.bar_seconds = bar_seconds
        self.up = False
        """Live answers, its transport runs, and ``origin`` maps its bars onto ours."""
        self.origin = 0
        """The Live bar where set bar 0 plays (bars since Live's song start)."""
        self.epoch = 0
        """Bumped at each (re)sync: the sink rejoins Live's clock when it changes."""
        self.live_bar = -1
        self.tick = 0
        """The beat within Live's bar, from its last beat."""
        self.settled = trio.Event()
        """Set once the start is decided: Live is up with an origin, or absent."""
        self._changed = trio.Event()

    def beat(self, beat: int) -> None:
        self.live_bar, self.tick = divmod(beat, self.beats_per_bar)
        self.poke()

    def sync(self, origin: int) -> None:
        self.origin, self.up = origin, True
        self.epoch += 1
        self.settled.set()
        self.poke()

    def down(self) -> None:
        self.up = False
        self.settled.set()
        self.poke()

    def poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def set_bar(self) -> int | None:
        """The set bar Live plays now, when it is the clock."""
        return self.live_bar - self.origin if self.up else None


class LiveClockSink:
    """A sink paced by Live's bar lines while Live is up, by its own clock (``inner`` when that is live, else
    trio's clock) while it is not. ``play(bar k)`` returns when bar k begins in Live."""

    live = True
    ahead = True  # Live's beat and the clips to fire must not wait on a render

    def __init__(self, inner: Sink, clock: LiveClock, sample_rate: int, wait_start: float) -> None:
        self.inner = inner
        self.clock = clock
        self.sample_rate = sample_rate
        self.wait_start = wait_start
        self.name = f"Ableton Live (monitor: {inner.name})"
        self.next_bar = 0
        self.on_live = 0
        """Bars whose start came from Live's beat (the rest came from our own clock)."""
        self._anchor: tuple[int, float] | None = None
        self._epoch = -1
        self._missed = -1
        """The epoch whose bar line Live missed: we go on by ourselves until the actor resyncs."""
        self._own: Sink | None = None

    async def play(self, audio: np.ndarray) -> Played:
        bar = self.next_bar
        self.next_bar += 1
        clock = self.clock
        if not clock.settled.is_set():
            with trio.move_on_after(self.wait_start):
                await clock.settled.wait()
        if clock.up and clock.epoch != self._missed:
            if self._epoch != clock.epoch:
                self._epoch, self._anchor, self._own = clock.epoch, None, None
            if await self._until_live(bar):
                self._anchor = (bar, trio.current_time())
                self.on_live += 1
                return Played()
            self._missed = self._epoch
        return await self._own_pace(audio)

    async def _until_live(self, bar: int) -> bool:
        """Wait for Live bar ``origin + bar``; False if our own clock's deadline passes first."""
        clock = self.clock
        if self._anchor is None:
            deadline = trio.current_time() + 2 * clock.bar_seconds
        else:
            start_bar, start = self._anchor
            deadline = start + (bar - start_bar) * clock.bar_seconds + clock.bar_seconds / 4
        with trio.move_on_after(max(0.0, deadline - trio.current_time())):
            while not (clock.up and clock.epoch == self._epoch and clock.live_bar >= clock.origin + bar):
                await clock.changed()
            return True
        return False

    async def _own_pace(self, audio: np.ndarray) -> Played:
        if self.inner.live:
            return await self.inner.play(audio)
        if self._own is None:  # returns as each bar begins, like Live's bar line did
            self._own = ClockSink(self.sample_rate, period=len(audio))
        return await self._own.play(audio)

    def close(self) -> None:
        self.inner.close()
