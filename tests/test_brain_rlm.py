"""The rlm brain, offline, on scripted RLM replies through the real router: tools, guardrails, sandbox limits,
new runs, cancellation, and replay --verify re-running the program."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import msgspec
import trio

from bergain_actors import replay
from bergain_actors.actors.conductor.rlm import program
from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from tests.brain_support import load, logged, of, play

GREEDY = """
[[ ## reasoning ## ]]
I push the texture too loud and stack more layers than the intro allows, to see what the mixer lets through.

[[ ## code ## ]]
```python
s = play(4)
for role, gain in [("texture", 0.4), ("perc", 0.4), ("clap", 0.5), ("bassline", 0.7), ("synth", 0.4)]:
    print(role, add(role, gain, ""))
print(fader("texture", 0.95))
SUBMIT(status="tested the guardrails")
```

[[ ## completed ## ]]
"""


async def test_the_guardrails_answer_the_program_in_its_own_words(tmp_path):
    scenario, text = load("rlm_scripted.toml", sandbox_timeout_s=0.5)
    script = tmp_path / "greedy.json"
    script.write_text(json.dumps({"rlm": [GREEDY]}))
    providers = [msgspec.structs.replace(p, script=str(script), cycle=False) for p in scenario.router.providers]
    router = msgspec.structs.replace(scenario.router, providers=providers)
    scenario = scenarios.replace(scenario, bars=64, router=router)  # the intro: bars 0-7
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)
    moves = of(events, ev.MixerMove)
    assert any(m.role == "texture" and m.move == "fader" and m.result.startswith("clamped") for m in moves)
    intro_refusals = [m for m in moves if m.move == "add" and m.bar < 8 and "limit" in m.result]
    assert {m.role for m in intro_refusals} == {"perc", "clap", "bassline", "synth"}  # layers 4..7 in the intro
    results = {r.call_id: r.value for r in of(events, ev.ToolResult)}
    assert any(isinstance(v, str) and "3 layers is the limit" in v for v in results.values()), "the program hears why"


async def test_rlm_plays_a_set_through_the_tools_and_replays(tmp_path, monkeypatch):
    scenario, text = load("rlm_scripted.toml", sandbox_timeout_s=0.5)
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)

    assert [e.bar for e in of(events, ev.BarPlayed)] == list(range(scenario.total_bars()))
    moves = of(events, ev.MixerMove)
    by_program = [m for m in moves if m.cause >= 0]
    assert by_program and not [m for m in moves if m.result.startswith("refused")], "a careful program is never refused"
    calls = {c.call_id: c for c in of(events, ev.ToolCall)}
    runs = [r for r in of(events, ev.ToolResult) if r.tool == "begin_run" and r.value.get("go")]
    assert len(runs) >= 2, "SUBMIT must start a new run"
    assert any(calls[r.call_id].tool == "end_run" and r.value == "ok" for r in of(events, ev.ToolResult))
    steps = of(events, ev.RLMStep)
    assert any(program.TIMEOUT_MESSAGE in s.output for s in steps), "the endless loop is cut by the sandbox"
    assert any("hint: build" in s.output for s in steps), "llm_query goes through the router too"
    assert all(r.source == "rlm" for r in of(events, ev.LMRequest))
    assert of(events, ev.ActorCrashed) == []
    assert isinstance(events[-1], ev.SetEnded)

    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(events)

    monkeypatch.setattr(program, "DJSet", program.DJSet.with_instructions(program.DJSet.instructions + " Be bold."))
    diverged = replay.verify(result.log_path, warn=lambda m: None).mismatch
    first = of(events, ev.LMRequest)[0]
    assert diverged.seq == first.seq


def _children() -> set[str]:
    return set(subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split())


async def test_stopping_inside_a_tool_call_ends_the_worker_and_closes_the_log(tmp_path):
    scenario, text = load("rlm_scripted.toml", sandbox_timeout_s=0.5)
    before = _children()  # other tests' servers (a session's JACK server) are not this set's
    with trio.CancelScope() as scope:

        def stop_in_play(event: ev.Event) -> None:
            if isinstance(event, ev.ToolCall) and event.tool == "play":
                scope.cancel()

        await play(scenario, text, tmp_path, on_event=stop_in_play)
    assert scope.cancelled_caught
    events = logged(tmp_path / "set.bgnlog")
    assert isinstance(events[-1], ev.SetEnded) and events[-1].reason == "interrupted"
    assert any(isinstance(e, ev.ToolCall) and e.tool == "play" for e in events)
    running = [f for f in sys._current_frames().values() if _in_worker(f)]
    assert running == [], "the RLM worker thread is still running"
    left = _children() - before
    assert not left, f"processes left behind: {left}"


def _in_worker(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "_work" and "rlm" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


async def test_when_the_lm_runs_dry_the_rlm_steps_down_to_phrase_then_autopilot_without_a_gap(tmp_path):
    scenario, text = load("rlm_scripted.toml")
    dry = [msgspec.structs.replace(p, cycle=False) for p in scenario.router.providers]  # answers run out mid-set
    scenario = scenarios.replace(
        scenario, bars=160, router=msgspec.structs.replace(scenario.router, providers=dry, cooldown_s=600.0)
    )
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)
    changes = [(e.old, e.new) for e in of(events, ev.BrainChanged)]
    assert changes[:2] == [("rlm", "phrase"), ("phrase", "autopilot")], changes
    assert [e.bar for e in of(events, ev.BarPlayed)] == list(range(160))
    assert of(events, ev.BarHeld) == []
    down = next(e for e in of(events, ev.BrainChanged) if e.new == "phrase")
    failed = next(e for e in of(events, ev.LMFailed) if e.request_id.startswith("rlm:"))
    assert down.seq > failed.seq and down.bar - failed.bar <= scenario.conductor.phrase_bars
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(events)


async def test_rlm_starts_from_the_autopilot_groove_and_every_bar_sounds(tmp_path, autojump_clock):
    scenario, text = load("rlm_scripted.toml")
    scenario = scenarios.replace(scenario, bars=48)
    result = await play(scenario, text, tmp_path, sink=ClockSink(scenario.sample_rate))  # live: nobody waits
    events = logged(result.log_path)
    plans = of(events, ev.BarPlanned)
    first = next(e for e in events if isinstance(e, ev.LMRequest | ev.ToolCall))
    assert plans[0].seq < first.seq, "bar 0 is planned before the LM or the program says anything"
    assert {layer.role for layer in plans[0].plan.layers} >= {"kick", "hihat"}
    assert all(p.plan.layers for p in plans), "no bar of the set is silent"
    assert [e.bar for e in of(events, ev.BarPlayed)] == list(range(48))


async def test_the_rlm_set_answers_a_performers_steer_and_replays(tmp_path):
    from bergain_actors import replay
    from bergain_actors.control import Desk

    scenario, text = load("rlm_scripted.toml", sandbox_timeout_s=0.5)
    scenario = scenarios.replace(scenario, bars=48)
    said: list = []

    async def performer(desk: Desk) -> None:
        said.append(desk.submit("darker"))

    result = await play(scenario, text, tmp_path, controls=performer)
    events = logged(result.log_path)
    acted = [e for e in of(events, ev.SteerActed) if e.cause == said[0].seq]
    assert len(acted) == 1 and acted[0].intent == "darker", of(events, ev.SteerActed)
    assert acted[0].bar < 16 + 4  # within a phrase of being asked, whichever brain leads
    told = [e for e in of(events, ev.ToolResult) if "performer: darker" in str(e.value)]
    assert told, "the program hears the words in play()'s status or feedback()"
    assert replay.verify(result.log_path, warn=lambda m: None).verified
