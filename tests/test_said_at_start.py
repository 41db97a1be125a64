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


def _written(tmp_path: Path, pack: Path, extra: str = "", conductor: str = 'kind = "autopilot"') -> Path:
    """The autopilot scenario on ``pack``, with ``conductor`` lines for its kind and ``extra`` after it."""
    text = AUTOPILOT.read_text().replace('sample_pack = "../sample_pack"', f'sample_pack = "{pack}"')
    (tmp_path / "set.toml").write_text(text.replace('kind = "autopilot"', conductor, 1) + extra)
    return tmp_path / "set.toml"


def _set(tmp_path: Path, capsys: pytest.CaptureFixture[str], pack: Path, extra: str = "") -> tuple[Path, str]:
    """A 16-bar autopilot set on ``pack`` from the command line: its log and what it printed."""
    argv = ["run", str(_written(tmp_path, pack, extra)), "--bars", "16", "--fast", "--no-audio", "--no-report"]
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


UNUSABLE = '[{ name = "cloud", kind = "openai", model = "m", key_env = "BERGAIN_UNSET_KEY" }]'
"""A provider list none of which the router can use: its key variable is not set."""


def _lm_set(tmp_path: Path, conductor: str, providers: str, critic: str = 'kind = "arc"') -> list[str]:
    """``run`` of the autopilot scenario with ``conductor`` and ``critic`` lines in those tables, and ``providers``."""
    path = _written(tmp_path, ROOT / "sample_pack", f"\n[router]\nproviders = {providers}\n", conductor)
    path.write_text(path.read_text().replace('kind = "arc"', critic))
    argv = ["run", str(path), "--bars", "8", "--fast", "--no-audio", "--no-report"]
    return [*argv, "--out", str(tmp_path / "out")]


@pytest.mark.parametrize(
    ("conductor", "providers", "who", "plays"),
    [
        ('kind = "phrase"', "[]", "the phrase brain", "autopilot"),
        ('kind = "rlm"', UNUSABLE, "the rlm brain", "autopilot"),
        ('kind = "autopilot"', "[]", "the llm critic", "arc"),  # before: not even a warning
    ],
)
def test_an_lm_kind_no_provider_can_answer_plays_its_fallback_said_logged_and_counted(
    tmp_path, capsys, monkeypatch, conductor, providers, who, plays
):
    monkeypatch.delenv("BERGAIN_UNSET_KEY", raising=False)
    critic = 'kind = "llm"' if who.endswith("critic") else 'kind = "arc"'
    assert main(_lm_set(tmp_path, conductor, providers, critic)) == 0  # the default fallback allows the autopilot
    captured = capsys.readouterr()
    (log_path,) = (tmp_path / "out").glob("*.bgnlog")
    (lacking,) = of(logged(log_path), ev.LMLacking)  # before: a BrainChanged once the first request failed, at best
    why = "no [router] providers" if providers == "[]" else "cloud: key variable BERGAIN_UNSET_KEY is not set"
    assert (lacking.who(), lacking.reason, lacking.plays) == (who, why, plays)
    assert f"{who} has no LM ({why}): {plays} plays in its place" in captured.out + captured.err
    line = f"no LM        {who} had none to ask ({why}): {plays} played"
    assert line in captured.out and line in _inspected(log_path, capsys)
    assert main(["replay", str(log_path), "--verify"]) == 0


def test_an_lm_brain_no_provider_can_answer_is_refused_when_the_scenario_allows_no_fallback(tmp_path, capsys):
    argv = _lm_set(tmp_path, 'kind = "phrase"\nfallback = ["phrase"]', "[]")
    assert main(argv) == 2
    assert main([*argv, "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 2 and error.startswith(
        "bergain-actors: set.toml: conductor.kind: the phrase brain needs an LM and none can answer (no [router]"
        ' providers); list "autopilot" in conductor.fallback to play without one'
    )
    assert not (tmp_path / "out").exists()
