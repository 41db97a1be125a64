"""What a set cannot use is never dropped silently: a sample it cannot decode, a provider it cannot call. Each is
a warning, an event in the log and a line of the summary (``run``'s and ``inspect``'s), and the set plays on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from tests.brain_support import logged, of
from tests.conftest import AUTOPILOT, ROOT


def _set(tmp_path: Path, capsys: pytest.CaptureFixture[str], pack: Path, extra: str = "") -> tuple[Path, str]:
    """A 16-bar autopilot set on ``pack`` from the command line: its log and what it printed."""
    text = AUTOPILOT.read_text().replace('sample_pack = "../sample_pack"', f'sample_pack = "{pack}"')
    (tmp_path / "set.toml").write_text(text + extra)
    argv = ["run", str(tmp_path / "set.toml"), "--bars", "16", "--fast", "--no-audio", "--no-report"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    (log_path,) = (tmp_path / "out").glob("*.bgnlog")
    captured = capsys.readouterr()
    return log_path, captured.out + captured.err


def _inspected(log_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["inspect", str(log_path)]) == 0
    return capsys.readouterr().out


def test_a_corrupt_sample_is_skipped_said_logged_and_counted(tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "sample_pack", pack)
    (pack / "kick" / "kick_punch_A.wav").write_bytes(b"RIFF, but not audio" * 50)
    (pack / "hihat" / "hat_closed_metal.wav").write_bytes(b"")
    log_path, printed = _set(tmp_path, capsys, pack)
    assert all(f"skipping sample {name}" in printed for name in ("kick/kick_punch_A.wav", "hihat/hat_closed_metal.wav"))
    skipped = {e.sample: e.reason for e in of(logged(log_path), ev.SampleSkipped)}
    assert sorted(skipped) == ["hihat/hat_closed_metal.wav", "kick/kick_punch_A.wav"]
    assert skipped["hihat/hat_closed_metal.wav"] == "ValueError: empty file"
    line = "pack skipped 2 unreadable: hihat/hat_closed_metal.wav (ValueError: empty file); kick/kick_punch_A.wav ("
    assert line in printed and line in _inspected(log_path, capsys)
    assert main(["replay", str(log_path), "--verify"]) == 0


def test_a_pack_without_kicks_is_a_set_without_a_kick_said_logged_and_counted(tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "sample_pack", pack, ignore=shutil.ignore_patterns("kick"))
    log_path, printed = _set(tmp_path, capsys, pack)
    assert f"the pack at {pack} has no kick sample for the arc: the set plays without a kick" in printed
    events = logged(log_path)
    assert [(e.part, e.need) for e in of(events, ev.PackLacks)] == [("arc", "kick sample")]  # before: nothing said
    assert not any(layer.role == "kick" for e in of(events, ev.BarPlanned) for layer in e.plan.layers)
    line = "pack lacks   1: no kick sample for the arc: the set plays without a kick"
    assert line in printed and line in _inspected(log_path, capsys)
    assert main(["replay", str(log_path), "--verify"]) == 0


def test_a_provider_the_set_cannot_use_is_counted_in_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BERGAIN_UNSET_KEY", raising=False)
    cloud = '{ name = "cloud", kind = "openai", model = "m", key_env = "BERGAIN_UNSET_KEY" }'
    router = f"\n[router]\nproviders = [{cloud}]\n"
    log_path, printed = _set(tmp_path, capsys, ROOT / "sample_pack", router)
    why = "key variable BERGAIN_UNSET_KEY is not set"
    assert "provider excluded" in printed and why in printed  # the warning
    assert [e.excluded for e in of(logged(log_path), ev.ProviderHealth)] == [{"cloud": why}]
    line = f"providers    1 excluded, the set could not use them: cloud: {why}"
    assert line in printed and line in _inspected(log_path, capsys)


def test_a_whole_pack_and_usable_providers_add_no_line(tmp_path, capsys):
    log_path, printed = _set(tmp_path, capsys, ROOT / "sample_pack")
    assert "pack skipped" not in printed and "excluded" not in printed and "pack lacks" not in printed
    assert not of(logged(log_path), ev.SampleSkipped) and not of(logged(log_path), ev.PackLacks)
