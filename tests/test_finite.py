"""NaN and infinities never become events: an event holding one is unequal to itself and could never replay."""

from __future__ import annotations

import json
import math
import re

import msgspec
import pytest

from bergain_actors import replay
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.bus import Bus
from bergain_actors.core.log import LogWriter, read_all
from tests.brain_support import load, logged, of, play
from tests.test_log import header

NAN_STEP = """
[[ ## reasoning ## ]]
A fader move with a gain computed from nothing.

[[ ## code ## ]]
```python
print("answer:", fader("kick", float("nan")))
print("inf:", add("clap", float("inf"), ""))
s = play(8)
```

[[ ## completed ## ]]
"""


@pytest.mark.parametrize(
    ("event", "where"),
    [
        (ev.MixerMove(move="fader", role="kick", args={"gain": math.nan}), "MixerMove.args.gain"),
        (ev.ToolCall(call_id=1, tool="add", args={"gains": [0.5, math.inf]}), "ToolCall.args.gains[1]"),
        (ev.PhaseChanged(phase="build", target_energy=-math.inf), "PhaseChanged.target_energy"),
    ],
)
def test_the_bus_refuses_a_non_finite_number_before_logging_it(tmp_path, event, where):
    writer = LogWriter.create(tmp_path / "n.bgnlog", header(), "never")
    bus = Bus(writer)
    bus.publish(ev.SetEnded(reason="x"), source="supervisor")
    with pytest.raises(ValueError, match="^" + re.escape(f"{where} is not a finite number")):
        bus.publish(event)
    assert bus.seq == 1
    writer.close()
    assert [type(e) for e in read_all(tmp_path / "n.bgnlog")[1]] == [ev.SetEnded]


async def test_sandbox_code_passing_nan_is_refused_and_the_set_verifies(tmp_path):
    script = tmp_path / "answers.json"
    script.write_text(json.dumps({"rlm": [NAN_STEP], "rlm_sub": ["build"]}))
    scenario, text = load("rlm_scripted.toml", sandbox_timeout_s=1.0)
    providers = {"providers": [{"name": "scripted", "kind": "scripted", "script": str(script)}]}
    scenario = scenarios.replace(scenario, bars=16, router=msgspec.convert(providers, scenarios.RouterConfig))
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)
    outputs = " ".join(step.output for step in of(events, ev.RLMStep))
    assert "answer: refused: gain must hold finite numbers, got nan" in outputs
    assert "inf: refused: gain must hold finite numbers, got inf" in outputs
    assert not [c for c in of(events, ev.ToolCall) if c.tool in ("fader", "add")]
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.mismatch is None, verdict.mismatch.describe()
    assert verdict.verified


async def test_a_huge_lm_answer_is_a_failure_and_is_not_kept(tmp_path):
    """A provider answering a phrase's choice with 300,000 characters: over the cap it cannot be read, so it is its
    provider's failure and the next provider answers; the log keeps no copy of it (not in the answer, not in the
    decision's raw text), and the set verifies."""
    from bergain_actors.actors.router.actor import MAX_ANSWER_CHARS

    script = tmp_path / "answers.json"
    script.write_text(json.dumps({"phrase": ['{"move": 1, "energy": "up"}' + " " * 300_000]}))
    (tmp_path / "steady.json").write_text(json.dumps({"phrase": ["1"]}))
    scenario, text = load("phrase_scripted.toml")
    huge = {"name": "huge", "kind": "scripted", "script": str(script)}
    steady = {"name": "steady", "kind": "scripted", "script": str(tmp_path / "steady.json")}
    router = msgspec.convert({"providers": [huge, steady]}, scenarios.RouterConfig)
    scenario = scenarios.replace(scenario, bars=16, minutes=None, router=router)
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)
    answers = of(events, ev.LMResponse)
    assert answers and {a.provider for a in answers} == {"steady"}
    assert f"over the {MAX_ANSWER_CHARS} cap" in answers[0].attempts[0]
    assert of(events, ev.LMAnswerCapped) == [] and of(events, ev.LMFailed) == []
    assert result.log_path.stat().st_size < 200_000, "no copy of the huge answer in the log"
    assert replay.verify(result.log_path, warn=lambda m: None).verified
