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


async def test_a_huge_lm_answer_is_capped_at_the_router_with_an_event(tmp_path):
    """A provider answering 300,000 characters: the router keeps 256 Ki of them and says so; the set verifies."""
    from bergain_actors.actors.router.actor import MAX_ANSWER_CHARS

    script = tmp_path / "answers.json"
    script.write_text(json.dumps({"phrase": ['{"move": 1, "energy": "up"}' + " " * 300_000]}))
    scenario, text = load("phrase_scripted.toml")
    providers = {"providers": [{"name": "scripted", "kind": "scripted", "script": str(script)}]}
    scenario = scenarios.replace(
        scenario, bars=16, minutes=None, router=msgspec.convert(providers, scenarios.RouterConfig)
    )
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)
    capped = of(events, ev.LMAnswerCapped)
    assert capped and capped[0].chars > 300_000 and capped[0].kept == MAX_ANSWER_CHARS
    answers = of(events, ev.LMResponse)
    assert answers and all(len(a.text) <= MAX_ANSWER_CHARS for a in answers)
    assert answers[0].request_id == capped[0].request_id and answers[0].seq == capped[0].seq + 1
    assert replay.verify(result.log_path, warn=lambda m: None).verified
