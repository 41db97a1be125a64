"""The log file: framing, torn tails at every byte, corruption, reopening, non-logs."""

from __future__ import annotations

import pytest

from bergain_actors.core import events as ev
from bergain_actors.core.log import MAGIC, LogError, LogHeader, LogReader, LogWriter, read_all
from bergain_actors.music.plan import BarPlan, Layer


def header() -> LogHeader:
    return LogHeader(
        package_version="test",
        scenario_path="s.toml",
        scenario_text="name = 'x'",
        resolved={"name": "x"},
        seed=1,
        pack_hash="0" * 64,
        sample_rate=44100,
    )


def sample_events(n: int) -> list[ev.Event]:
    out: list[ev.Event] = []
    for i in range(n):
        plan = BarPlan(bar=i, bpm=128.0, layers=(Layer(role="kick", sample="kick/a.wav", gain=0.9, hits=(0, 96)),))
        out.append(ev.BarPlanned(plan=plan, seq=2 * i + 1, bar=i, source="conductor"))
        out.append(ev.BarPlayed(plan_seq=2 * i + 1, seq=2 * i + 2, bar=i, source="streamer", rms=0.25))
    return out


def write_log(path, events, fsync="never"):
    writer = LogWriter.create(path, header(), fsync)
    for event in events:
        writer.append(event)
    writer.close()
    return path


def test_round_trip_streams_every_event(tmp_path):
    events = sample_events(50)
    path = write_log(tmp_path / "a.bgnlog", events)
    head, got, problem = read_all(path)
    assert head == header()
    assert got == events
    assert problem is None


def test_truncated_at_every_byte_reads_up_to_last_complete_record(tmp_path):
    events = sample_events(4)
    full = write_log(tmp_path / "full.bgnlog", events).read_bytes()
    # offsets where each record ends, to know how many complete records a cut leaves
    ends = []
    writer_path = tmp_path / "grow.bgnlog"
    writer = LogWriter.create(writer_path, header(), "never")
    writer.commit()
    header_end = writer_path.stat().st_size
    for event in events:
        writer.append(event)
        writer.commit()
        ends.append(writer_path.stat().st_size)
    writer.close()
    cut_path = tmp_path / "cut.bgnlog"
    for cut in range(header_end, len(full)):
        cut_path.write_bytes(full[:cut])
        reader = LogReader(cut_path)
        got = list(reader)
        complete = sum(1 for end in ends if end <= cut)
        assert got == events[:complete], cut
        if cut in (header_end, *ends):
            assert reader.problem is None
        else:
            assert reader.problem is not None and reader.problem.kind == "torn"
            assert reader.problem.offset == ([header_end, *ends][complete])
            assert reader.good_bytes == [header_end, *ends][complete]


def test_cut_inside_header_is_a_clear_error(tmp_path):
    full = write_log(tmp_path / "full.bgnlog", sample_events(1)).read_bytes()
    path = tmp_path / "h.bgnlog"
    path.write_bytes(full[: len(MAGIC) + 5])
    with pytest.raises(LogError, match="header is incomplete"):
        LogReader(path)


def test_flipped_byte_is_reported_corrupt_never_decoded(tmp_path):
    events = sample_events(20)
    path = write_log(tmp_path / "c.bgnlog", events)
    data = bytearray(path.read_bytes())
    clean = LogReader(path)
    offsets = []
    for _ in clean:
        offsets.append(clean.good_bytes)
    # flip one payload byte inside record 10 (events index 9 ends at offsets[9])
    victim_start = offsets[8]
    data[victim_start + 12] ^= 0x40
    path.write_bytes(bytes(data))
    reader = LogReader(path)
    got = list(reader)
    assert got == events[:9]
    assert reader.problem is not None
    assert reader.problem.kind == "corrupt"
    assert reader.problem.offset == victim_start
    assert "checksum" in reader.problem.detail


def test_reopen_truncates_torn_tail_before_appending(tmp_path):
    events = sample_events(6)
    path = write_log(tmp_path / "r.bgnlog", events)
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # tear the last record
    writer, problem = LogWriter.reopen(path)
    assert problem is not None and problem.kind == "torn"
    extra = ev.SetEnded(reason="complete", seq=12, source="supervisor")
    writer.append(extra)
    writer.close()
    _, got, problem = read_all(path)
    assert problem is None
    assert got == [*events[:-1], extra]


def test_not_a_log(tmp_path):
    path = tmp_path / "x.bgnlog"
    path.write_text("name = 'a scenario, not a log'\n")
    with pytest.raises(LogError, match="not a bergain-actors log"):
        LogReader(path)


def test_comparable_ignores_wall_clock_only():
    a = ev.BarPlayed(plan_seq=1, bar=2, wall=1.0)
    b = ev.BarPlayed(plan_seq=1, bar=2, wall=2.0)
    c = ev.BarPlayed(plan_seq=1, bar=3, wall=1.0)
    assert ev.comparable(a) == ev.comparable(b)
    assert ev.comparable(a) != ev.comparable(c)
