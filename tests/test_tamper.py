"""Every way of forging a log the tamper harness knows (``tests/tamper.py``), each re-framed with valid record
checksums: ``replay --verify`` must refuse it with the exit code the README names and one line saying why."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from tests.tamper import Events, Tamper, both, cut, delete, duplicate, edit, forge, header, index, insert, swap

ROOT = Path(__file__).resolve().parents[1]
DAMAGED, DIVERGED, BAD_INPUT = 4, 3, 2
SETS = {"autopilot": ("autopilot.toml", 16), "phrase-scripted": ("phrase_scripted.toml", 32)}
"""The sets the cases forge, played fresh by this code (so a corpus awaiting regeneration cannot mask a case)."""


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    played = {}
    for name, (scenario, bars) in SETS.items():
        out = tmp_path_factory.mktemp(name)
        argv = ["run", str(ROOT / "scenarios" / scenario), "--fast", "--no-audio", "--quiet", "--no-report"]
        assert main([*argv, "--bars", str(bars), "--out", str(out)]) == 0
        [played[name]] = out.glob("*.bgnlog")
    return played


def stale_plan(events: Events) -> Events:
    """Bar 8 names the plan bar 0 played: a plan the log holds, but long gone by then."""
    i, first = index(events, ev.BarPlayed, 8), events[index(events, ev.BarPlayed, 0)]
    assert isinstance(first, ev.BarPlayed)
    return [*events[:i], msgspec.structs.replace(events[i], plan_seq=first.plan_seq), *events[i + 1 :]]


def critic(event: ev.ActorStarted) -> bool:
    return event.slot == "critic"


VERDICT = ev.DirectiveMoved(directive="vary", measure="energy", before=0.3, after=0.9, target=0.8, moved=True)


def with_api_provider(resolved: dict) -> dict:
    """The scenario with an API provider too (the router is not re-run: only the answers' checks see it)."""
    router = resolved["router"]
    api = {**router["providers"][0], "name": "api", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"}
    return {**resolved, "router": {**router, "providers": [*router["providers"], api]}}


def seed_in_text(text: str) -> str:
    return text.replace("seed = 7", "seed = 99")


CASES = [
    # the bars: which plan, its checksum, held or not
    Tamper(name="bar names an unknown plan", change=edit(ev.BarPlayed, 5, plan_seq=99999), exit=DIVERGED,
           says="bar 5 names plan seq 99999"),
    Tamper(name="bar names a stale plan", change=stale_plan, exit=DIVERGED, says="bar 8 names plan seq"),
    Tamper(name="bar without its checksum", change=edit(ev.BarPlayed, 3, checksum=-1), exit=DIVERGED,
           says="bar 3 carries no audio checksum"),
    Tamper(name="bar with a forged checksum", change=edit(ev.BarPlayed, 3, checksum=12345), exit=DIVERGED,
           says="replay diverged at bar 3"),
    Tamper(name="held flag set on bar 0", change=edit(ev.BarPlayed, 0, held=True), exit=DIVERGED,
           says="bar 0 is marked held"),
    Tamper(name="an unknown plan, then a forged checksum",
           change=both(edit(ev.BarPlayed, 5, plan_seq=99999), edit(ev.BarPlayed, 10, checksum=1)), exit=DIVERGED,
           says="bar 5 names plan seq 99999"),
    Tamper(name="format 1 claimed, a checksum dropped", header=header(format=1),
           change=edit(ev.BarPlayed, 3, checksum=-1), exit=DIVERGED, says="bar 3 carries no audio checksum"),
    # records deleted, duplicated, swapped, cut, inserted
    Tamper(name="a bar deleted", change=delete(ev.BarPlayed, 6), exit=DAMAGED, says="1 record(s) deleted"),
    Tamper(name="a bar deleted, seqs closed up", change=delete(ev.BarPlayed, 6, renumber=True), exit=DIVERGED,
           says="bar 7 played before bar 6"),
    Tamper(name="a decision deleted, seqs closed up", change=delete(ev.MixerMove, 3, renumber=True),
           exit=DIVERGED, says="replay diverged at seq"),
    Tamper(name="a bar duplicated", change=duplicate(ev.BarPlayed, 4), exit=DAMAGED, says="appears again"),
    Tamper(name="two records swapped, seqs kept", change=swap(ev.BarPlayed, 4, renumber=False), exit=DAMAGED,
           says="appears again"),
    Tamper(name="two records swapped, renumbered", change=swap(ev.BarPlayed, 4), exit=DIVERGED,
           says="never produced"),
    Tamper(name="the tail cut", change=cut(0.6), exit=DAMAGED, says="no SetEnded"),
    Tamper(name="a set that stopped in error", change=edit(ev.SetEnded, -1, reason="error"), exit=DAMAGED,
           says="the set stopped in error"),
    Tamper(name="SetEnded's bar count", change=edit(ev.SetEnded, -1, bars_played=12), exit=DAMAGED,
           says="SetEnded says 12 bars"),
    Tamper(name="an input from no one", change=insert(ev.BarPlayed, ev.KeyUnfit(role="bass", key="A minor"), 6),
           exit=DIVERGED, says="a KeyUnfit with no source"),
    Tamper(name="a critic's verdict from no one",
           change=insert(ev.BarPlayed, VERDICT, 6),
           exit=DIVERGED, says="never produced"),
    Tamper(name="a command typed into the log",
           change=insert(ev.BarPlayed, ev.Control(command="stop", args={"now": True}, source="control"), 6),
           exit=DIVERGED, says="replay produced an event where the log has an input"),
    Tamper(name="another critic started", change=edit(ev.ActorStarted, where=critic, kind="audio"), exit=DIVERGED,
           says="the critic started as 'audio'"),
    Tamper(name="an unknown critic started", change=edit(ev.ActorStarted, where=critic, kind="bogus"),
           exit=DIVERGED, says="kind 'bogus', which this code does not know"),
    # the header
    Tamper(name="header seed and text", header=header(seed=99, scenario_text=seed_in_text), exit=DIVERGED,
           says="the header says seed 99"),
    Tamper(name="scenario text's tempo", header=header(scenario_text=lambda t: t.replace("bpm = 128", "bpm = 130")),
           exit=DIVERGED, says="differ in bpm"),
    Tamper(name="resolved seed and header seed", header=header(seed=99, resolved=lambda r: {**r, "seed": 99}),
           exit=DIVERGED, says="SetStarted (seq 4) is not the set its scenario announces: seed differ"),
    Tamper(name="another sample pack", header=header(pack_hash="0" * 64), exit=DIVERGED,
           says="pass --pack DIR to replay with another pack on purpose"),
    Tamper(name="format 0", header=header(format=0), exit=BAD_INPUT, says="log format 0 does not exist"),
    # LM answers
    Tamper(name="an answer's text", log="phrase-scripted", exit=DIVERGED, says="replay diverged at seq",
           change=edit(ev.LMResponse, 1, text='{"move": 6, "energy": "down"}')),
    Tamper(name="an answer's provider", log="phrase-scripted", change=edit(ev.LMResponse, 1, provider="gpt-x"),
           exit=DIVERGED, says="provider 'gpt-x', which the set had not got"),
    Tamper(name="an answer's token counts", log="phrase-scripted", header=header(resolved=with_api_provider),
           change=edit(ev.LMResponse, 1, provider="api", completion_tokens=100_000), exit=DIVERGED,
           says="100000) tokens, though at most"),
]  # fmt: skip


@pytest.mark.parametrize("tamper", CASES, ids=[case.name for case in CASES])
def test_a_forged_log_is_refused_with_its_reason(tamper: Tamper, logs, tmp_path, capsys):
    forged = forge(logs[tamper.log], tmp_path / "forged.bgnlog", tamper)
    capsys.readouterr()
    code = main(["replay", str(forged), "--verify"])
    out, err = capsys.readouterr()
    assert code == tamper.exit, f"exit {code}, not {tamper.exit}\n{out}{err}"
    assert tamper.says in out + err, out + err
    if code != BAD_INPUT:
        assert not out.startswith("verified:") and ("not verified" in out or "partial" in out), out


def test_the_untouched_logs_verify(logs, tmp_path, capsys):
    """The harness itself changes nothing but what a case says: a log forged by no change verifies."""
    for name, log in logs.items():
        copy = forge(log, tmp_path / f"{name}.bgnlog", Tamper(name="none", exit=0, says=""))
        assert main(["replay", str(copy), "--verify"]) == 0, capsys.readouterr().err


def test_after_a_forged_bar_the_render_goes_on_to_the_last_bar(logs, tmp_path, capsys):
    """One bar naming a plan the log lacks is named, and every later bar is still rendered and checked."""
    tamper = Tamper(name="x", change=edit(ev.BarPlayed, 5, plan_seq=99999), exit=DIVERGED, says="")
    forged = forge(logs["autopilot"], tmp_path / "forged.bgnlog", tamper)
    capsys.readouterr()
    assert main(["replay", str(forged), "--wav", str(tmp_path / "f.wav")]) == DIVERGED
    out, err = capsys.readouterr()
    assert "bar 5 names plan seq 99999" in err and "rendered 16 of 16 bars" in out, out + err
    assert "the first difference is at bar 5" in out


def test_a_pack_chosen_on_purpose_is_a_warning(logs, tmp_path, capsys):
    tamper = Tamper(name="x", header=header(pack_hash="0" * 64), exit=0, says="")
    forged = forge(logs["autopilot"], tmp_path / "forged.bgnlog", tamper)
    pack = ROOT / "sample_pack"
    capsys.readouterr()
    assert main(["replay", str(forged), "--verify", "--pack", str(pack)]) == 0
    assert "replaying with it as --pack asks" in capsys.readouterr().err


def test_inspect_shows_the_seed_the_set_announced(logs, tmp_path, capsys):
    forged = forge(logs["autopilot"], tmp_path / "f.bgnlog", CASES[21])
    capsys.readouterr()
    main(["inspect", str(forged)])
    out, err = capsys.readouterr()
    assert "seed 7 " in out and "the header says seed 99; the set announced seed 7" in err


def test_the_forged_events_are_what_the_cases_say(logs, tmp_path):
    """The harness's own helpers do what they claim (a deletion closes its gap, an insertion moves seqs up)."""
    log = logs["autopilot"]
    events = read_all(log)[1]
    closed = read_all(forge(log, tmp_path / "a.bgnlog", CASES[8]))[1]
    assert [e.seq for e in closed] == list(range(1, len(events)))
    grown = read_all(forge(log, tmp_path / "b.bgnlog", CASES[16]))[1]
    assert [e.seq for e in grown] == list(range(1, len(events) + 2))
    assert sum(isinstance(e, ev.KeyUnfit) and e.source == "" for e in grown) == 1
