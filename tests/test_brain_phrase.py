"""The phrase brain through the real router: scripted answers validated, clamped and applied at phrase starts;
garbage falls to the autopilot; the provider failing steps the brain down and its circuit closing brings it back;
replay --verify reproduces it all and reports a changed prompt at its seq."""

from __future__ import annotations

import json
import os
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

GOOD = "1"
"""A constrained answer: the first move."""


def scripted(tmp_path, answers, **provider):
    script = tmp_path / "answers.json"
    script.write_text(json.dumps({"phrase": answers}))
    return {"name": "scripted", "kind": "scripted", "script": str(script), **provider}


def with_router(scenario, providers, **router):
    config = msgspec.convert({"providers": providers, **router}, scenarios.RouterConfig)
    return scenarios.replace(scenario, router=config)


async def test_the_lm_is_scored_on_a_menu_of_valid_moves_and_garbage_falls_back(tmp_path, monkeypatch):
    scenario, text = load("phrase_scripted.toml")
    even = {str(n): -1.0 for n in range(1, 7)}
    prior = {"1": -0.2, "2": -2.0, "3": -2.5, "4": -3.0, "5": -3.0, "6": -3.0}
    biased = {"scores": [{**prior, "3": -0.5}, even, prior]}  # below "1" as it is, above it once the bias is out
    second = {"scores": [{**even, "2": -0.1}, even]}
    answers = [biased, "3", "I would add a synth", biased, second]
    scenario = with_router(scenario, [scripted(tmp_path, answers)])
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)

    requests = {int(r.request_id.split(":")[1]): r for r in of(events, ev.LMRequest)}
    decisions = of(events, ev.PhraseDecision)
    chosen = [d for d in decisions if "fallback" not in d.decision]
    calibrated: set[int] = set()
    for d in chosen:
        request = requests[d.bar]
        size = len(d.decision["menu"])
        assert 1 <= size <= 6 and request.score == tuple("123456"[:size]) and request.max_tokens == 1
        shown = request.messages[1]["content"]
        assert f"{d.decision['move']}. {d.decision['label']}" in shown
        assert "{" not in shown and "{" not in request.messages[0]["content"], "no example answer to copy"
        if size in calibrated:
            assert len(request.variants) == 1, "the content-free prompt is asked once per menu size"
        else:
            assert len(request.variants) == 2 and "N/A" in request.variants[1][1]["content"]
        if d.decision["method"] == "scored":
            calibrated.add(size)
    first, constrained, again, last = chosen[:4]
    for scored in (first, again):
        picked = scored.decision["choice"]
        assert scored.decision["move"] == 3, "the option the model likes, once its bias for the first is out"
        assert max(picked["raw"]) == picked["raw"][0], "as it is, the first option looks likeliest"
        assert picked["prior"] and picked["calibrated"] != picked["raw"]
    assert (constrained.decision["move"], constrained.decision["method"]) == (3, "constrained")
    assert not constrained.decision["choice"].get("calibrated")
    (garbage,) = of(events, ev.LMFailed)  # an answer that names no option is the provider's failure (issue 22.11)
    assert "neither probabilities nor an option in the answer 'I would add a synth'" in " ".join(garbage.attempts)
    assert last.decision["move"] == 2 and last.decision["method"] == "scored"

    moves = of(events, ev.MixerMove)
    by_lm = [m for m in moves if m.cause in {d.cause for d in chosen}]
    assert by_lm and all(m.result.startswith(("ok", "clamped")) for m in by_lm), "every menu move applies"
    assert not [m for m in moves if m.result.startswith("refused")]
    changes = [(b.old, b.new) for b in of(events, ev.BrainChanged)]
    assert changes == [("phrase", "autopilot"), ("autopilot", "phrase")]  # stood down for that phrase, then back

    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(events)
    monkeypatch.setattr(decision, "SYSTEM", decision.SYSTEM + " Be bold.")
    diverged = replay.verify(result.log_path, warn=lambda m: None).mismatch
    assert diverged.seq == of(events, ev.LMRequest)[0].seq


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
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(events)


@pytest.mark.llm
@pytest.mark.timeout(1200)
async def test_phrase_brain_on_the_embedded_local_lm_replays_without_network(tmp_path, monkeypatch):
    scenario, text = load("local_phrase.toml")
    # offline the set waits for each answer; on a loaded CI machine an answer can take well over the scenario's
    # 20 s, so the test allows five minutes: it is about replaying without network, not about speed (bench/
    # measures that). Two phrases ask the LM three times: as much as this checks needs.
    [local] = scenario.router.providers
    router = msgspec.structs.replace(scenario.router, providers=[msgspec.structs.replace(local, timeout_s=300.0)])
    scenario = scenarios.replace(scenario, minutes=None, bars=32, router=router)
    niceness: list[int] = []

    def child_priority(event: ev.Event) -> None:
        if isinstance(event, ev.LocalServerChanged) and event.status == "started":
            niceness.append(os.getpriority(os.PRIO_PROCESS, event.pid) - os.getpriority(os.PRIO_PROCESS, 0))

    result = await play(scenario, text, tmp_path, on_event=child_priority)
    assert niceness == [0], "offline the set waits for the model: its child runs at the set's priority, not niced"
    events = logged(result.log_path)
    requests = of(events, ev.LMRequest)
    decisions = [d for d in of(events, ev.PhraseDecision) if "fallback" not in d.decision]
    assert requests, "the phrase brain asked the LM"
    assert of(events, ev.LMFailed) == [], [e.reason for e in of(events, ev.LMFailed)]
    assert len(decisions) >= len(requests) - 1, [d.clamped for d in of(events, ev.PhraseDecision)]
    assert all(r.provider == "local" for r in of(events, ev.LMResponse))
    for d in decisions:
        assert 1 <= d.decision["move"] <= len(d.decision["menu"]) and d.decision["method"] == "scored"
        assert len(d.decision["choice"]["prior"]) == len(d.decision["menu"])
    by_lm = [m for m in of(events, ev.MixerMove) if m.cause in {d.cause for d in decisions}]
    assert by_lm and all(m.result.startswith(("ok", "clamped")) for m in by_lm), "every chosen move applies"

    def no_network(*args, **kwargs):
        raise AssertionError("replay opened a socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(events)
    out = tmp_path / "replayed.wav"
    replay.render(result.log_path, out, warn=lambda m: None)
    assert out.read_bytes() == result.wav_path.read_bytes()


@pytest.mark.llm
@pytest.mark.timeout(900)
def test_default_scenario_is_lm_driven_and_inspect_shows_the_decisions(tmp_path, capsys):
    from bergain_actors.cli import main
    from bergain_actors.core.scenario import DEFAULT_SCENARIO, PACKAGE_ROOT

    # the default scenario as shipped, but with time for a loaded CI machine (20 s → 300 s per answer)
    text = DEFAULT_SCENARIO.read_text()
    assert "timeout_s = 20.0" in text and 'sample_pack = "../sample_pack"' in text
    text = text.replace("timeout_s = 20.0", "timeout_s = 300.0")
    text = text.replace('"../sample_pack"', json.dumps(str(PACKAGE_ROOT / "sample_pack")))
    (tmp_path / "default.toml").write_text(text)
    argv = ["run", str(tmp_path / "default.toml"), "--bars", "40", "--no-audio", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 0
    (log,) = tmp_path.glob("*.bgnlog")
    decisions = [e for e in logged(log) if isinstance(e, ev.PhraseDecision) and "fallback" not in e.decision]
    failures = [e.reason for e in logged(log) if isinstance(e, ev.LMFailed)]
    assert decisions, f"no phrase decided by the LM in 40 bars (LM failures: {failures})"
    assert all(e.source == "conductor" for e in decisions)
    capsys.readouterr()
    assert main(["inspect", str(log)]) == 0
    out = capsys.readouterr().out
    assert f"{len([e for e in logged(log) if isinstance(e, ev.PhraseDecision)])} phrase decisions" in out


def test_the_prompt_says_what_each_move_does_and_holds_no_answer():
    from bergain_actors.actors.conductor import decision as dec
    from bergain_actors.actors.conductor.menu import Option

    text = dec.context(
        brief="minimal",
        bar=96,
        total=256,
        phase="peak",
        target=0.8,
        energy=0.55,
        mixer={"kick": {"gain": 0.9, "muted": False}, "hihat": {"gain": 0.5, "muted": True}},
        directives=["more energy"],
        said=["darker"],
    )
    assert "should rise toward 0.80" in text and "kick 0.90" in text and "hihat" not in text
    assert "The performer asks: darker" in text and "The critic says: more energy" in text
    add = Option("add", "bassline", {"gain": 0.6}, "add bassline", 0.7, ("vary", "energy_up", "more_dense", "darker"))
    assert dec.describe(add) == "add bassline (more energy, fuller, darker)"
    assert "{" not in dec.SYSTEM + dec.QUESTION
