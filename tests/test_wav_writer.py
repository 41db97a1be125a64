"""The set's WAV writer converts and writes the samples itself: the file must hold the very bytes libsndfile wrote
for the same audio (the corpus and every earlier set's WAV stay comparable), header included."""

from __future__ import annotations

import errno
import io

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.actors.streamer import sinks
from bergain_actors.actors.streamer.sinks import WavBehind, WavWriter, pcm16
from bergain_actors.core.fatal import SetCannotContinue


def _by_libsndfile(audio: np.ndarray, rate: int = 44100) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def _awkward_audio() -> np.ndarray:
    """Audio where rounding decides: every 16-bit step and the halves between, values a hair off a step (whose
    32-bit rounding lands on it), quiet noise, and full scale, past it and just under it."""
    rng = np.random.default_rng(3)
    steps = np.arange(-32768, 32768, dtype=np.float64)
    parts = [
        steps / 32768,
        (steps + 0.5) / 32768,
        (steps + rng.uniform(-1e-5, 1e-5, steps.size)) / 32768,
        rng.integers(-(1 << 20), 1 << 20, 40000) / 2.0**23,
        rng.uniform(-1e-3, 1e-3, 40000),
        rng.uniform(-1.0, 1.0, 40000),
        np.array([1.0, -1.0, 1.5, -1.5, 0.0, -0.0, np.nextafter(1.0, 0.0), 1e-12, -1e-12, 0.999999, -0.999999]),
    ]
    flat = np.concatenate(parts).astype(np.float32)
    return flat[: flat.size // 2 * 2].reshape(-1, 2)


def test_pcm16_is_what_libsndfile_writes():
    audio = _awkward_audio()
    ours = pcm16(audio).tobytes()
    theirs = _by_libsndfile(audio)[44:]
    assert len(ours) == len(theirs)
    differ = np.flatnonzero(np.frombuffer(ours, "<i2") != np.frombuffer(theirs, "<i2"))
    assert differ.size == 0, f"{differ.size} samples differ, first at {audio.reshape(-1)[differ[:5]]}"


def test_the_written_file_is_libsndfiles_byte_for_byte(tmp_path):
    """Bars written one by one, closed: the same file, header and all, as libsndfile's for the whole audio."""
    audio = _awkward_audio()
    writer = WavWriter(tmp_path / "set.wav", 48000)
    for bar in np.array_split(audio, 7):
        writer.write(bar)
    writer.close()
    assert (tmp_path / "set.wav").read_bytes() == _by_libsndfile(audio, 48000)
    assert writer.frames == audio.shape[0]


def test_the_header_counts_every_whole_bar_before_close(tmp_path):
    """A reader opening the file mid-set (or after a kill) sees exactly the bars written so far."""
    writer = WavWriter(tmp_path / "set.wav", 44100)
    bar = np.full((1000, 2), 0.25, dtype=np.float32)
    for written in range(1, 4):
        writer.write(bar)
        assert sf.info(str(tmp_path / "set.wav")).frames == 1000 * written
    writer.close()
    writer.close()  # a second close is harmless


def test_a_writer_behind_writes_the_same_file(tmp_path):
    """Bars queued to the writer's thread land in order: libsndfile's file, header and all, once closed."""
    audio = _awkward_audio()
    behind = WavBehind(WavWriter(tmp_path / "set.wav", 48000), depth=2)
    for bar in np.array_split(audio, 7):
        behind.write(bar)
    behind.close()
    behind.close()  # a second close is harmless
    assert (tmp_path / "set.wav").read_bytes() == _by_libsndfile(audio, 48000)
    assert behind.failure is None


def test_a_write_refused_behind_stops_the_next_write_and_keeps_the_whole_bars(tmp_path, monkeypatch):
    """The disk refuses the third bar in the writer's thread: the failure is kept, raised at the next write (the
    set stops there), and the file holds the two whole bars before it."""
    real, calls = sinks._write_all, [0]

    def full_at_third_bar(fd, data):
        calls[0] += 1
        if calls[0] == 4:  # the header, then bars 1 and 2
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(sinks, "_write_all", full_at_third_bar)
    bar = np.full((1000, 2), 0.25, dtype=np.float32)
    behind = WavBehind(WavWriter(tmp_path / "set.wav", 44100))
    for _ in range(3):
        behind.write(bar)
    behind.close()
    assert isinstance(behind.failure, SetCannotContinue) and "No space left" in str(behind.failure)
    with pytest.raises(SetCannotContinue):
        behind.write(bar)
    assert sf.info(str(tmp_path / "set.wav")).frames == 2000


def test_any_error_behind_is_raised_not_hung_on(tmp_path, monkeypatch):
    """An error of another kind in the writer's thread: the set's next write raises it instead of waiting forever
    on a queue nobody drains."""

    def broken(self, audio):
        raise ValueError("a bug")

    monkeypatch.setattr(WavWriter, "write", broken)
    behind = WavBehind(WavWriter(tmp_path / "set.wav", 44100), depth=1)
    behind.write(np.zeros((10, 2), np.float32))
    behind.close()
    with pytest.raises(ValueError, match="a bug"):
        behind.write(np.zeros((10, 2), np.float32))
