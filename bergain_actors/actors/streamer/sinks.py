"""Where rendered bars go: the WAV file (always) and, live, something that consumes audio at the speed of time.

A sink's ``play`` returns when the bar has been taken — that return is the live set's clock and its backpressure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf
import trio


class Sink(Protocol):
    name: str
    live: bool
    """Whether ``play`` is paced by a clock (then a late plan means a hold) or returns at once (offline)."""

    async def play(self, audio: np.ndarray) -> int:
        """Hand one bar over; returns how many output underflows the device reported while taking it."""
        ...

    def close(self) -> None: ...


class WavWriter:
    """Writes the set incrementally as 16-bit PCM: nothing grows in memory, and the header is valid at close."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.frames = 0
        self._file = sf.SoundFile(path, "w", samplerate=sample_rate, channels=2, subtype="PCM_16", format="WAV")

    def write(self, audio: np.ndarray) -> None:
        self._file.write(audio)
        self.frames += len(audio)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class OfflineSink:
    """No device: bars are taken as fast as they are rendered (``--fast``, ``--no-audio``, no sound card)."""

    name = "file only"
    live = False

    async def play(self, audio: np.ndarray) -> int:
        await trio.lowlevel.checkpoint()  # let the log committer and observers breathe between bars
        return 0

    def close(self) -> None:
        pass


class ClockSink:
    """Consumes audio at real speed on trio's clock, like a device with a ``period``-frame buffer. Under a
    MockClock it makes a live set run in virtual time: deadlines and holds behave exactly as on speakers."""

    name = "clock"
    live = True

    def __init__(self, sample_rate: int, period: int = 1024) -> None:
        self.sample_rate = sample_rate
        self.period = period
        self._start: float | None = None
        self._frames = 0

    async def play(self, audio: np.ndarray) -> int:
        if self._start is None:
            self._start = trio.current_time()
        self._frames += len(audio)
        await trio.sleep_until(self._start + max(0, self._frames - self.period) / self.sample_rate)
        return 0

    def close(self) -> None:
        pass


class DeviceSink:
    """A PortAudio output stream (sounddevice). ``write`` blocks in a worker thread until the device has room,
    which paces the set; PortAudio's underflow flag is counted per bar."""

    live = True

    def __init__(self, device: int, name: str, sample_rate: int) -> None:
        import sounddevice as sd

        self.name = name
        self._stream = sd.OutputStream(device=device, samplerate=sample_rate, channels=2, dtype="float32")
        self._stream.start()

    async def play(self, audio: np.ndarray) -> int:
        underflowed = await trio.to_thread.run_sync(self._stream.write, np.ascontiguousarray(audio))
        return int(bool(underflowed))

    def close(self) -> None:
        try:
            self._stream.stop()
        finally:
            self._stream.close()


def find_device(wanted: str, sample_rate: int) -> tuple[int, str] | str:
    """The output device to play on, or why there is none. Prefers JACK's default output when JACK runs (other
    ALSA plugins can shadow it); ``wanted`` picks by index or name substring."""
    if os.environ.get("BERGAIN_NO_AUDIO"):
        return "audio disabled by BERGAIN_NO_AUDIO"
    try:
        import sounddevice as sd
    except OSError as exc:
        return f"PortAudio is not available ({exc})"
    try:
        devices = list(sd.query_devices())
        apis = list(sd.query_hostapis())
    except Exception as exc:  # PortAudio raises its own error types for a broken audio setup
        return f"cannot list audio devices ({exc})"
    outputs = [(i, d) for i, d in enumerate(devices) if d["max_output_channels"] >= 2]
    if not outputs:
        return "no audio output device"
    if wanted:
        chosen = [(i, d) for i, d in outputs if wanted == str(i) or wanted.lower() in d["name"].lower()]
        if not chosen:
            names = ", ".join(f"{i}: {d['name']}" for i, d in outputs)
            return f"no output device matches {wanted!r} (have {names})"
    else:
        jack = [a for a in apis if "JACK" in a["name"] and a["default_output_device"] >= 0]
        default = jack[0]["default_output_device"] if jack else sd.default.device[1]
        chosen = [(i, d) for i, d in outputs if i == default] or outputs[:1]
    index, info = chosen[0]
    try:
        sd.check_output_settings(device=index, samplerate=sample_rate, channels=2, dtype="float32")
    except Exception as exc:
        return f"{info['name']} cannot play {sample_rate} Hz stereo ({exc}); set sample_rate in the scenario"
    return index, info["name"]
