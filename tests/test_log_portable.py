"""Logs that travel and last: one size rule for writer and reader, a header of any size, paths relative to the
log, the code identity in the header, and format-1 logs upcast on reading (a real one is kept as a fixture)."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from bergain_actors import identity
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.log import LOG_FORMAT, MAX_RECORD, LogReader, LogWriter, RecordTooLarge, read_all
from bergain_actors.core.scenario import PACKAGE_ROOT
from tests.test_log import header

V1_LOG = Path(__file__).parent / "corpus" / "v1-autopilot.bgnlog"


def test_a_33_kb_brief_makes_a_header_that_reads(tmp_path, capsys):
    """The brief is in the header twice (the scenario's text and the resolved scenario): 2 x 34 KB."""
    brief = "Patient, dark, hypnotic. " * 1360
    text = (PACKAGE_ROOT / "scenarios" / "autopilot.toml").read_text()
    text = text.replace('"../sample_pack"', f'"{PACKAGE_ROOT / "sample_pack"}"')
    text = "\n".join(f'brief = "{brief}"' if line.startswith("brief =") else line for line in text.splitlines())
    scenario = tmp_path / "long.toml"
    scenario.write_text(text)
    assert main(["run", str(scenario), "--fast", "--no-audio", "--quiet", "--bars", "4", "--out", str(tmp_path)]) == 0
    (log,) = tmp_path.glob("*.bgnlog")
    reader = LogReader(log)
    assert len(reader.header.resolved["conductor"]["brief"]) > 33_000
    assert len(reader.header.scenario_text) > 33_000
    assert main(["replay", str(log), "--verify"]) == 0


def test_the_writer_refuses_what_the_reader_could_not_read(tmp_path):
    path = tmp_path / "big.bgnlog"
    writer = LogWriter.create(path, header(), "never")
    writer.append(
        ev.SetStarted(
            name="x", seed=1, bpm=128, beats_per_bar=4, total_bars=1, sample_rate=44100, lookahead_bars=1, seq=1
        )
    )
    huge = ev.LMResponse(request_id="r", provider="p", text="x" * (MAX_RECORD + 1), seq=2)
    with pytest.raises(RecordTooLarge, match=r"LMResponse of \d+ bytes is larger than a log record may be"):
        writer.append(huge)
    writer.append(ev.SetEnded(reason="complete", seq=2))
    writer.close()
    _, events, problem = read_all(path)
    assert problem is None and [type(e) for e in events] == [ev.SetStarted, ev.SetEnded]


def test_a_format_1_log_is_upcast_and_reads_to_the_end(capsys):
    reader = LogReader(V1_LOG)
    assert reader.written_format == 1 and reader.header.format == LOG_FORMAT == 2
    assert reader.header.source_hash == "" and reader.header.base_dir == ""
    events = list(reader)
    assert reader.problem is None
    assert isinstance(events[-1], ev.SetEnded) and events[-1].bars_played == 16
    played = [e for e in events if isinstance(e, ev.BarPlayed)]
    assert len(played) == 16 and all(e.checksum == -1 for e in played)  # from before checksums: unknown
    assert main(["inspect", str(V1_LOG)]) == 0
    assert "format 1" in capsys.readouterr().out


def test_a_moved_project_replays_from_paths_relative_to_the_log(tmp_path, capsys):
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copytree(PACKAGE_ROOT / "sample_pack", project / "sample_pack")
    shutil.copy(PACKAGE_ROOT / "scenarios" / "autopilot.toml", project / "scenarios")
    argv = ["run", str(project / "scenarios" / "autopilot.toml"), "--fast", "--no-audio", "--quiet", "--bars", "8"]
    assert main([*argv, "--out", str(project / "logs")]) == 0
    moved = project.rename(tmp_path / "elsewhere")
    (log,) = (moved / "logs").glob("*.bgnlog")
    assert LogReader(log).header.base_dir == "../scenarios"
    capsys.readouterr()
    assert main(["replay", str(log), "--verify", "--wav", str(tmp_path / "a.wav")]) == 0
    assert "no such folder" not in capsys.readouterr().err
    shutil.move(moved / "sample_pack", tmp_path / "pack")
    assert main(["replay", str(log), "--verify"]) == 2
    assert "sample_pack: no such folder" in capsys.readouterr().err
    assert main(["replay", str(log), "--verify", "--pack", str(tmp_path / "pack")]) == 0
    for wrong, why in ((tmp_path / "nowhere", "no such folder"), (log, "not a folder")):
        assert main(["replay", str(log), "--verify", "--pack", str(wrong)]) == 2  # the flag as typed, not the key
        assert capsys.readouterr().err == f"bergain-actors: --pack {wrong}: {why}\n"


def test_replay_says_when_other_code_wrote_the_log(tmp_path, capsys, monkeypatch):
    assert (
        main(
            [
                "run",
                str(PACKAGE_ROOT / "scenarios" / "autopilot.toml"),
                "--fast",
                "--no-audio",
                "--quiet",
                "--bars",
                "4",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    (log,) = tmp_path.glob("*.bgnlog")
    assert LogReader(log).header.source_hash == identity.source_hash()
    capsys.readouterr()
    assert main(["replay", str(log), "--verify"]) == 0
    assert "written by" not in capsys.readouterr().err
    monkeypatch.setattr(identity, "source_hash", lambda: "0123456789abcdef")
    assert main(["replay", str(log), "--verify"]) == 0
    err = capsys.readouterr().err
    assert "this log was written by bergain-actors" in err and "0123456789abcdef" in err


def test_header_fields_survive_a_round_trip(tmp_path):
    path = tmp_path / "h.bgnlog"
    head = msgspec.structs.replace(header(), source_hash="abc", base_dir="..")
    LogWriter.create(path, head, "never").close()
    assert LogReader(path).header == head


def test_an_event_too_large_for_the_log_leaves_no_seq_gap(tmp_path):
    from bergain_actors.core.bus import Bus

    path = tmp_path / "gap.bgnlog"
    writer = LogWriter.create(path, header(), "never")
    bus = Bus(writer)
    bus.publish(ev.Control(command="stop"), source="control")
    with pytest.raises(RecordTooLarge):
        bus.publish(ev.LMResponse(request_id="r", provider="p", text="x" * (MAX_RECORD + 1)), source="router")
    assert bus.publish(ev.SetEnded(reason="complete"), source="supervisor").seq == 2
    writer.close()
    assert [e.seq for e in read_all(path)[1]] == [1, 2]
