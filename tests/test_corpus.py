"""The corpus: small logged sets of every kind (tests/corpus/README.md). Each must verify and re-render to the
WAV checksum the set played; each must still show what it is there for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bergain_actors.cli import main
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.replay import audit
from tests import corpus_kinds

CORPUS = Path(__file__).parent / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
FORMAT_1 = "v1-autopilot"
"""Kept as the first version wrote it (never regenerated): checked apart, below."""

SHOWS: dict[str, type[ev.Event]] = {
    "autopilot": ev.MixerMove,
    "phrase-scripted": ev.PhraseDecision,
    "rlm-scripted": ev.ToolCall,
    "swap": ev.ActorSwapped,
    "failover": ev.ProviderStateChanged,
    "crash-restart": ev.ActorRestarted,
    "stopped": ev.StopPlanned,
}
"""The event that makes each log worth keeping."""


@pytest.fixture(autouse=True)
def corpus_actor_kinds(monkeypatch):
    """The crash-restart set's critic kind, registered for the test only."""
    monkeypatch.setitem(registry.KINDS["critic"], "flaky", corpus_kinds.FlakyCritic)


def test_the_corpus_covers_every_kind_of_set():
    assert sorted(MANIFEST) == sorted(SHOWS)


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_a_corpus_log_verifies_and_renders_to_its_checksum(name, tmp_path, capsys):
    log = CORPUS / f"{name}.bgnlog"
    expected = MANIFEST[name]
    _, events, problem = read_all(log)
    assert problem is None and len(events) == expected["events"]
    assert any(isinstance(e, SHOWS[name]) for e in events), f"{name} no longer shows a {SHOWS[name].__name__}"
    wav = tmp_path / f"{name}.wav"
    code = main(["replay", str(log), "--verify", "--wav", str(wav)])
    out, err = capsys.readouterr()
    regenerate = "if the music changed on purpose, run scripts/make_corpus.py (tests/corpus/README.md)"
    assert code == 0, f"{err[-1500:]}\n{regenerate}"
    assert f"verified: {expected['events']} of {expected['events']} events" in out
    assert f"rendered {expected['bars']} of {expected['bars']} bars" in out
    assert hashlib.sha256(wav.read_bytes()).hexdigest() == expected["wav_sha256"], regenerate


def test_every_log_in_the_corpus_is_checked_here():
    assert sorted(p.stem for p in CORPUS.glob("*.bgnlog")) == sorted([*MANIFEST, FORMAT_1])


def test_the_format_1_log_reads_whole_and_says_why_its_decisions_differ(tmp_path, capsys):
    """Written by the first version, which recorded neither its code nor audio checksums: it reads and upcasts
    whole, renders every bar, and its decisions are those of that code (the brief read as intents came later): verify
    names the first one this code makes differently and says the log does not record which code wrote it."""
    log = CORPUS / f"{FORMAT_1}.bgnlog"
    found = audit(log)
    assert found.problems == () and found.bars == found.expected_bars == 16 and not found.checksums
    capsys.readouterr()
    assert main(["inspect", str(log)]) == 0
    assert main(["replay", str(log), "--wav", str(tmp_path / "v1.wav")]) == 0
    out, err = capsys.readouterr()
    assert "rendered 16 of 16 bars" in out and "bars carry no audio checksum" in err
    assert main(["replay", str(log), "--verify"]) == 3
    out, err = capsys.readouterr()
    assert "does not record which code wrote it" in err and "replay diverged at seq 5" in err
    assert "the first difference is at seq 5" in out


def test_a_log_of_a_kind_this_code_lacks_names_the_kind(monkeypatch, capsys):
    """Without the test-only critic registered, the crash-restart set cannot be re-run, and verify says why."""
    monkeypatch.delitem(registry.KINDS["critic"], "flaky")
    capsys.readouterr()
    assert main(["replay", str(CORPUS / "crash-restart.bgnlog"), "--verify"]) == 3
    err = capsys.readouterr().err
    assert "the critic played as kind 'flaky', which this code does not know" in err
