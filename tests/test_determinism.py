"""Determinism is tested by comparing bytes: two runs, their logs and WAVs, their replays."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from bergain_actors.actors.conductor import autopilot
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.core.scenario import PACKAGE_ROOT
from bergain_actors.performance import perform, set_paths

AUTOPILOT = PACKAGE_ROOT / "scenarios" / "autopilot.toml"


def run_cli(out: Path, *extra: str) -> tuple[Path, Path]:
    code = main(["run", str(AUTOPILOT), "--fast", "--no-audio", "--quiet", "--out", str(out), *extra])
    assert code == 0
    logs, wavs = sorted(out.glob("*.bgnlog")), sorted(out.glob("*.wav"))
    assert len(logs) == 1 and len(wavs) == 1, (logs, wavs)
    return logs[0], wavs[0]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[tuple[Path, Path], tuple[Path, Path]]:
    first = run_cli(tmp_path_factory.mktemp("a"), "--minutes", "3", "--seed", "11")
    second = run_cli(tmp_path_factory.mktemp("b"), "--minutes", "3", "--seed", "11")
    return first, second


def test_same_seed_same_events_and_same_wav_bytes(two_runs):
    (log_a, wav_a), (log_b, wav_b) = two_runs
    _, events_a, _ = read_all(log_a)
    _, events_b, _ = read_all(log_b)
    assert len(events_a) > 200
    assert [ev.comparable(e) for e in events_a] == [ev.comparable(e) for e in events_b]
    assert wav_a.read_bytes() == wav_b.read_bytes()


def test_other_seed_plays_another_set(two_runs, tmp_path):
    (log_a, _), _ = two_runs
    log_c, _ = run_cli(tmp_path, "--minutes", "3", "--seed", "12")
    moves = lambda path: [ev.comparable(e) for e in read_all(path)[1] if isinstance(e, ev.MixerMove)]  # noqa: E731
    assert moves(log_a) != moves(log_c)


def test_replay_wav_reproduces_the_bytes(two_runs, tmp_path):
    (log_a, wav_a), (log_b, _) = two_runs
    for i, log in enumerate((log_a, log_b)):
        out = tmp_path / f"{i}.replay.wav"
        assert main(["replay", str(log), "--wav", str(out)]) == 0
        assert out.read_bytes() == wav_a.read_bytes()


def test_replay_verify_exits_0(two_runs, capsys):
    (log_a, _), _ = two_runs
    assert main(["replay", str(log_a), "--verify"]) == 0
    assert "replayed identically" in capsys.readouterr().out


def test_changed_decision_diverges_with_first_seq(two_runs, capsys, monkeypatch):
    (log_a, _), _ = two_runs
    monkeypatch.setitem(autopilot.PREFERRED_GAIN, "hihat", 0.5)
    assert main(["replay", str(log_a), "--verify"]) == 3
    err = capsys.readouterr().err
    _, events, _ = read_all(log_a)
    first = next(e for e in events if isinstance(e, ev.MixerMove) and e.role == "hihat" and e.move == "add")
    assert f"replay diverged at seq {first.seq}" in err
    assert '"gain":0.57' in err and '"gain":0.5' in err


async def test_sixty_minute_set_in_virtual_time(autojump_clock, scenario_factory, tmp_path):
    scenario = scenario_factory(bars=None, minutes=60)
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="long")
    start = trio.current_time()
    result = await perform(scenario, "", log_path=log_path, wav_path=wav_path)
    assert result.summary.bars_played == 1920
    assert trio.current_time() - start < 1.0  # offline: nothing waits on the clock
    import soundfile as sf

    info = sf.info(wav_path)
    assert info.frames == round(1920 * 1.875 * 44100)


def test_truncated_and_corrupt_logs_replay_what_is_good(two_runs, tmp_path, capsys):
    (log_a, _), _ = two_runs
    data = log_a.read_bytes()
    cut = tmp_path / "cut.bgnlog"
    cut.write_bytes(data[: len(data) * 2 // 3 + 5])
    capsys.readouterr()
    assert main(["replay", str(cut), "--wav", str(tmp_path / "cut.wav"), "--verify"]) == 4
    assert main(["replay", str(cut), "--wav", str(tmp_path / "cut2.wav"), "--verify", "--allow-partial"]) == 0
    err = capsys.readouterr().err
    assert "torn tail at byte" in err
    offset = int(err.split("torn tail at byte ")[1].split()[0])
    assert offset <= len(data) * 2 // 3 + 5
    assert main(["inspect", str(cut), "--json"]) == 4  # what could be read, and exit 4: the log was cut
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("{") for line in lines)

    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x20
    bad = tmp_path / "bad.bgnlog"
    bad.write_bytes(bytes(flipped))
    assert main(["inspect", str(bad)]) == 4
    err = capsys.readouterr().err
    assert "corrupt record at byte" in err
