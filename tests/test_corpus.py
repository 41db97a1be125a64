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
from tests import corpus_kinds

CORPUS = Path(__file__).parent / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())

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
