"""Ableton Link: our peer in a session, and the timeline that puts our bars on the session's phase.

The set's audio is a continuous stream of frames; Link is a shared map from time to beats. ``LinkTimeline`` keeps
where our next frame will sound on Link's clock (the time the first frame was handed to the sink plus the frames
handed since), and before each bar finds the session bar line (a multiple of the quantum) nearest to it: while our
tempo and the session's agree the two coincide and nothing moves; when they differ (another peer changed the
tempo, and our plans follow it a few bars later) the bar is shifted on its way to the speakers — silence before
it, or its first frames skipped — so it still starts on the session's phase. The WAV never sees a shift.

Link calls never block (about 1 µs), so they run straight from the streamer's task. One ``link.Link`` per process,
kept for the process's lifetime: destroying one that has peers can deadlock on the GIL.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

_LINK: Any = None


class LinkSession:
    """Our peer in the session (enabled while a set plays)."""

    def __init__(self, bpm: float, quantum: int) -> None:
        global _LINK
        import link

        if _LINK is None:
            _LINK = link.Link(bpm)
        self._link = _LINK
        self.quantum = quantum
        self._link.enabled = True
        if self._link.numPeers() == 0:  # alone: the session starts at our tempo (with peers, theirs wins)
            self.share_tempo(bpm)

    def now(self) -> int:
        """Link's clock, in µs."""
        return int(self._link.clock().micros())

    def tempo(self) -> float:
        return float(self._link.captureAppSessionState().tempo())

    def peers(self) -> int:
        return int(self._link.numPeers())

    def bar_line(self, at: int, ahead: bool) -> tuple[float, int]:
        """The session bar line nearest to time ``at`` (the next one at or after it when ``ahead``): its beat and
        its time."""
        state = self._link.captureAppSessionState()
        cycles = state.beatAtTime(at, self.quantum) / self.quantum
        beat = float((-(-cycles // 1) if ahead else round(cycles)) * self.quantum)
        return beat, int(state.timeAtBeat(beat, self.quantum))

    def share_tempo(self, bpm: float, at: int | None = None) -> None:
        """Propose our tempo to the session from time ``at`` (default: now); the beat at ``at`` stays put."""
        state = self._link.captureAppSessionState()
        state.setTempo(bpm, self.now() if at is None else at)
        self._link.commitAppSessionState(state)

    def leave(self) -> None:
        self._link.enabled = False


class LinkTimeline:
    """Where our frames sound on Link's clock, and the shift that starts each bar on the session's phase."""

    LEAD_US = 50_000
    """The first bar starts on the first session bar line at least this far ahead (time to hand it over)."""

    def __init__(self, session: LinkSession, sample_rate: int) -> None:
        self.session = session
        self.rate = sample_rate
        self._first: int | None = None
        self._frames = 0

    def place(self, audio: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """Bar ``audio`` as it must go to the speakers (shifted onto the session's phase), with the session beat
        it starts on, its start on Link's clock (µs) and the shift in frames (> 0 silence, < 0 skipped)."""
        if self._first is None:
            self._first = self.session.now()
            beat, target = self.session.bar_line(self._first + self.LEAD_US, ahead=True)
        else:
            beat, target = self.session.bar_line(self._at(self._frames), ahead=False)
        shift = round((target - self._at(self._frames)) * self.rate / 1e6)
        shift = max(shift, 1 - len(audio))  # never skip a whole bar
        if shift > 0:
            audio = np.concatenate([np.zeros((shift, audio.shape[1]), audio.dtype), audio])
        elif shift < 0:
            audio = audio[-shift:]
        start = self._at(self._frames + shift)  # where the bar's first frame sounds, or would have
        self._frames += len(audio)
        return audio, beat, start, shift

    def anchor(self, frame: int, raw_us: int) -> None:
        """The sink said where frame ``frame`` really sounds (µs on CLOCK_MONOTONIC_RAW: a device's output
        latency, or its start after the device came back); the next bar is placed from there."""
        offset = self.session.now() - time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW) // 1000
        self._first = raw_us + offset - round(frame * 1e6 / self.rate)

    def next_start(self) -> int | None:
        """When the next frame handed over will sound, on Link's clock (None before the first bar)."""
        return None if self._first is None else self._at(self._frames)

    def _at(self, frames: int) -> int:
        assert self._first is not None
        return self._first + round(frames * 1e6 / self.rate)
