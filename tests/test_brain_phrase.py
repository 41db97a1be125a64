"""The phrase brain through the real router: scripted answers validated, clamped and applied at phrase starts;
garbage falls to the autopilot; the provider failing steps the brain down and its circuit closing brings it back;
replay --verify reproduces it all and reports a changed prompt at its seq."""

from __future__ import annotations

import json
import socket

import msgspec
import pytest
import soundfile as sf
import trio

from bergain_actors import replay
from bergain_actors.actors.conductor import decision
from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.clock import Meter
from tests.brain_support import load, logged, of, play

GOOD = {
    "energy": 0.3,
    "remove": [],
    "change": [],
    "add": [{"role": "kick", "gain": 0.9, "pattern": "four_on_floor"}],
    "breakdown": False,
}
WILD = {
    "energy": 10,
    "remove": ["nosuchrole"],
    "change": [],
    "add": [
        {"role": "hihat", "gain": 5, "pattern": "offbeat_8ths"},
        {"role": "texture", "gain": 0.4, "pattern": "nosuchpattern"},
        {"role": "clap", "gain": 0.5, "pattern": "backbeat"},
    ],
    "breakdown": False,
}


def scripted(tmp_path, answers, **provider):
    script = tmp_path / "answers.json"
    script.write_text(json.dumps({"phrase": answers}))
    return {"name": "scripted", "kind": "scripted", "script": str(script), **provider}


def with_router(scenario, providers, **router):
    config = msgspec.convert({"providers": providers, **router}, scenarios.RouterConfig)
    return scenarios.replace(scenario, router=config)


async def test_decisions_are_clamped_applied_at_phrase_starts_and_garbage_falls_back(tmp_path, monkeypatch):
    scenario, text = load("phrase_scripted.toml")
    scenario = with_router(scenario, [scripted(tmp_path, [GOOD, WILD, [1, 2], GOOD])])
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)

    decisions = of(events, ev.PhraseDecision)
    first, wild, garbage = decisions[0], decisions[1], decisions[2]
    assert first.bar == 0 and first.decision["add"][0]["role"] == "kick"
    assert wild.decision["energy"] == 1.0 and "energy 10 → 1" in wild.clamped
    assert len(wild.decision["add"]) == decision.MAX_MOVES and any("gain 5 → 1" in n for n in wild.clamped)
    assert any("nosuchpattern" in n for n in wild.clamped) and any("nosuchrole" in n for n in wild.clamped)
    moves = of(events, ev.MixerMove)
    assert any(m.bar == wild.bar and m.move == "add" and m.role == "hihat" for m in moves)
    assert garbage.decision == {"fallback": "autopilot"}
    assert any(m.bar == garbage.bar for m in moves), "the autopilot decides the garbage phrase"
    starts = {e.bar for e in of(events, ev.PhraseDecision)}
    assert all(m.bar in starts or m.cause >= 0 or m.move in ("unmute",) for m in moves if m.bar in starts)
    assert of(events, ev.BrainChanged) == []

    checked, _ = replay.verify(result.log_path, warn=lambda m: None)
    assert checked == len(events)
    monkeypatch.setattr(decision, "SYSTEM", decision.SYSTEM + " Be bold.")
    with pytest.raises(replay.Divergence) as diverged:
        replay.verify(result.log_path, warn=lambda m: None)
    assert diverged.value.seq == of(events, ev.LMRequest)[0].seq


async def test_failing_provider_steps_down_within_a_phrase_and_recovers(tmp_path, autojump_clock):
    scenario, text = load("phrase_scripted.toml")
    scenario = scenarios.replace(scenario, minutes=None, bars=192)
    answers = [GOOD] * 4
    scenario = with_router(scenario, [scripted(tmp_path, answers, cycle=False)], cooldown_s=20.0, probe_at_start=False)
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"phrase": [GOOD]}))
    opened = trio.Event()
    bus = None

    def grab(supervisor):
        nonlocal bus
        bus = supervisor.bus

    def watch(event):
        if isinstance(event, ev.ProviderStateChanged) and event.new == "open":
            opened.set()

    async def repair():
        await opened.wait()
        bus.publish(
            ev.ProviderControl(op="switch", provider="scripted", config={"script": str(fixed), "cycle": True}),
            source="control",
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(repair)
        result = await play(
            scenario, text, tmp_path, sink=ClockSink(scenario.sample_rate), before_start=grab, on_event=watch
        )
        nursery.cancel_scope.cancel()
    events = logged(result.log_path)

    failed = of(events, ev.LMFailed)[0]
    changes = of(events, ev.BrainChanged)
    down, up = changes[0], changes[1]
    assert (down.old, down.new) == ("phrase", "autopilot") and down.seq > failed.seq
    failed_bar = int(failed.request_id.split(":")[1])
    assert down.bar <= failed_bar, "stepped down before the phrase that lost its answer started"
    closed = next(e for e in of(events, ev.ProviderStateChanged) if e.new == "closed")
    assert (up.old, up.new) == ("autopilot", "phrase") and up.seq > closed.seq
    assert any(d.bar > up.bar and "fallback" not in d.decision for d in of(events, ev.PhraseDecision))

    played = [e.bar for e in of(events, ev.BarPlayed)]
    assert played == list(range(192)) and of(events, ev.BarHeld) == []
    meter = Meter(scenario.bpm, scenario.beats_per_bar)
    assert sf.info(str(result.wav_path)).frames == sum(meter.bar_frames(b, scenario.sample_rate)[1] for b in played)
    checked, _ = replay.verify(result.log_path, warn=lambda m: None)
    assert checked == len(events)


@pytest.mark.llm
async def test_phrase_brain_on_the_embedded_local_lm_replays_without_network(tmp_path, monkeypatch):
    scenario, text = load("local_phrase.toml")
    scenario = scenarios.replace(scenario, minutes=None, bars=64)
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)
    requests = of(events, ev.LMRequest)
    decisions = [d for d in of(events, ev.PhraseDecision) if "fallback" not in d.decision]
    assert requests and of(events, ev.LMFailed) == []
    assert len(decisions) >= len(requests) - 1, [d.clamped for d in of(events, ev.PhraseDecision)]
    assert all(r.provider == "local" for r in of(events, ev.LMResponse))
    for d in decisions:
        assert 0.0 <= d.decision["energy"] <= 1.0
        assert all(0.05 <= a["gain"] <= 1.0 for a in d.decision["add"] if a["gain"] is not None)

    def no_network(*args, **kwargs):
        raise AssertionError("replay opened a socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    checked, _ = replay.verify(result.log_path, warn=lambda m: None)
    assert checked == len(events)
    out = tmp_path / "replayed.wav"
    replay.render(result.log_path, out, warn=lambda m: None)
    assert out.read_bytes() == result.wav_path.read_bytes()


@pytest.mark.llm
def test_default_scenario_is_lm_driven_and_inspect_shows_the_decisions(tmp_path, capsys):
    from bergain_actors.cli import main
    from bergain_actors.core.scenario import DEFAULT_SCENARIO

    assert main(["run", str(DEFAULT_SCENARIO), "--bars", "40", "--no-audio", "--quiet", "--out", str(tmp_path)]) == 0
    (log,) = tmp_path.glob("*.bgnlog")
    decisions = [e for e in logged(log) if isinstance(e, ev.PhraseDecision) and "fallback" not in e.decision]
    assert decisions and all(e.source == "conductor" for e in decisions)
    capsys.readouterr()
    assert main(["inspect", str(log)]) == 0
    out = capsys.readouterr().out
    assert f"{len([e for e in logged(log) if isinstance(e, ev.PhraseDecision)])} phrase decisions" in out


def test_compact_grammar_and_schema_read_the_same():
    from bergain_actors.actors.conductor import decision as dec

    roles, patterns = ["kick", "hihat"], ["four_on_floor", "sixteenths"]
    grammar = dec.grammar(roles, patterns)
    assert all(" " not in literal for literal in grammar.split('"')[1::2]), "no whitespace in any literal"
    assert 'change ::= "{"' in grammar and '"[" change "]' in grammar  # exactly one change: one audible move
    compact = (
        '{"energy":0.6,"remove":[],"change":[{"role":"hihat","gain":0.5,"pattern":"keep"}],"add":[],"breakdown":false}'
    )
    decision, notes = dec.parse(compact, roles, patterns, 0.5)
    assert notes == [] and decision["change"] == [{"role": "hihat", "gain": 0.5, "pattern": "keep"}]
