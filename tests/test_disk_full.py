"""A full disk ends the set cleanly: exit 1, one line saying why, the log closed at a record boundary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from bergain_actors.core import events as ev
from bergain_actors.core.log import LogReader

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real filesystem of a given size (tmpfs), unmounted afterwards; skipped where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"disk-{size}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("size", ["200k", "2m"])
def test_a_full_disk_stops_the_set_with_one_line_and_a_readable_log(small_disk, size: str) -> None:
    out = small_disk(size)
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(ROOT / "scenarios" / "autopilot.toml")]
    argv += ["--fast", "--quiet", "--bars", "64", "--out", str(out)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the set hung on a {size} disk instead of stopping")
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bergain-actors: "), done.stderr[-2000:]
    assert "No space left on device" in lines[0] and "the set stopped" in lines[0], lines[0]
    [log] = out.glob("*.bgnlog")
    reader = LogReader(log)
    events = list(reader)
    assert reader.problem is None, reader.problem
    assert isinstance(events[-1], ev.SetEnded) and events[-1].reason == "error", events[-1]
    played = [e.bar for e in events if isinstance(e, ev.BarPlayed)]
    assert played == list(range(len(played))) and len(played) < 64
    assert str(log) in lines[0]
    [wav] = out.glob("*.wav")
    assert sf.info(str(wav)).frames >= 0, "the WAV stays readable"


def test_a_log_that_hits_a_full_disk_keeps_its_records_and_ends_at_a_record_boundary(small_disk) -> None:
    """No ``BufferError`` after a failed write, nothing half-written in the file, and the records that did not fit
    are written once there is room again (here: at close, after a filler file is removed)."""
    from bergain_actors.core.log import LogHeader, LogWriter

    disk = small_disk("64k")
    filler = disk / "filler"
    filler.write_bytes(b"\0" * 24 * 1024)
    header = LogHeader(
        package_version="t", scenario_path="", scenario_text="", resolved={}, seed=0, pack_hash="", sample_rate=44100
    )
    writer = LogWriter.create(disk / "set.bgnlog", header, "never")
    appended = 0
    while writer.failure is None and appended < 100:
        appended += 1
        writer.append(ev.LMResponse(request_id=f"r{appended}", provider="p", text="x" * 8000, seq=appended))
        writer.commit()
    assert writer.failure is not None and appended < 100, "the disk filled up"
    on_disk = list(LogReader(disk / "set.bgnlog"))
    assert len(on_disk) < appended and [e.seq for e in on_disk] == list(range(1, len(on_disk) + 1))
    writer.append(ev.SetEnded(reason="error", seq=appended + 1))  # raised BufferError before
    filler.unlink()
    writer.close()
    reader = LogReader(disk / "set.bgnlog")
    assert [e.seq for e in reader] == list(range(1, appended + 2)) and reader.problem is None


def test_a_wav_write_refused_at_the_last_bar_still_fails_the_set(scenario_factory, tmp_path, monkeypatch) -> None:
    """The WAV is written behind the set, in a thread: a write the disk refuses at the very last bar (no later
    write raises it) still makes the set fail, saying why, with every bar in the log."""
    import errno

    import trio

    from bergain_actors.actors.streamer import sinks
    from bergain_actors.core.fatal import SetCannotContinue
    from bergain_actors.performance import perform

    real, calls = sinks._write_all, [0]

    def full_at_the_last_bar(fd, data):
        calls[0] += 1
        if calls[0] == 1 + 8:  # the header, then 8 bars
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(sinks, "_write_all", full_at_the_last_bar)
    log = tmp_path / "s.bgnlog"
    with pytest.raises(SetCannotContinue, match="No space left on device"):
        trio.run(lambda: perform(scenario_factory(bars=8), "", log_path=log, wav_path=tmp_path / "s.wav"))
    assert [e.bar for e in LogReader(log) if isinstance(e, ev.BarPlayed)] == list(range(8))
