"""Offline a set is a function of its scenario, its seed and the LM's answers: the same answers arriving at other
points of the set before their deadline give byte-identical ``--fast`` sets and the same decisions, and each
replays exactly. The answers come from a real server on 127.0.0.1 (at once, or held for a seeded random number
of bars), then the same answers from a script, which answers before the set has moved on at all."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict

import msgspec
import pytest
import trio

from bergain_actors import replay
from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from tests.brain_support import load, logged, of, play

pytestmark = pytest.mark.timeout(900)
LEAD = 12


def arrivals(events: list[ev.Event]) -> list[tuple[str, int]]:
    """Each answer and how many bars had been played when it came."""
    played, out = 0, []
    for event in events:
        if isinstance(event, ev.BarPlayed):
            played += 1
        elif isinstance(event, ev.LMResponse):
            out.append((event.request_id, played))
    return out


class Delays:
    """Holds the answer for the phrase at bar P until bar P - k has been played, k seeded in 1..LEAD - 2 (1: after
    the set has stalled waiting for it; larger: long before it is needed). No seed: answers at once."""

    def __init__(self, seed: int | None) -> None:
        self.rng = None if seed is None else random.Random(seed)
        self.played: defaultdict[int, trio.Event] = defaultdict(trio.Event)
        self.waits: dict[int, int] = {}

    def tap(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed):
            self.played[event.bar].set()

    async def hold(self, body: dict[str, object]) -> None:
        found = re.search(r"bar (\d+) of", json.dumps(body["messages"]))
        if self.rng is None or found is None:
            return
        bar = int(found[1])
        wait = self.waits.setdefault(bar, self.rng.randint(1, LEAD - 2))
        await self.played[bar - wait].wait()


async def test_the_same_answers_at_other_times_give_the_same_set(tmp_path, nursery: trio.Nursery) -> None:
    server = await nursery.start(FaultServer().run)
    await server.set_mode("score")
    scenario, text = load("phrase_scripted.toml", temperature=0.7, lead_bars=LEAD)
    provider = {"name": "model", "kind": "openai", "base_url": server.url, "model": "m", "timeout_s": 300.0}
    router = msgspec.convert({"providers": [provider], "probe_at_start": False}, scenarios.RouterConfig)
    scenario = scenarios.replace(scenario, router=router)
    runs = []
    for seed in (None, 1):
        delays = Delays(seed)
        server.hold = delays.hold
        out = tmp_path / f"run-{seed}"
        out.mkdir()
        result = await play(scenario, text, out, on_event=delays.tap)
        runs.append((result, logged(result.log_path)))
    script = tmp_path / "answers.json"
    script.write_text(json.dumps({"phrase": [{"scores": e.scores} for e in of(runs[0][1], ev.LMResponse)]}))
    scripted = {"name": "model", "kind": "scripted", "script": str(script), "cycle": False}
    router = msgspec.convert({"providers": [scripted]}, scenarios.RouterConfig)
    out = tmp_path / "scripted"
    out.mkdir()
    result = await play(scenarios.replace(scenario, router=router), text, out)
    runs.append((result, logged(result.log_path)))

    decisions = [[(d.bar, d.decision) for d in of(events, ev.PhraseDecision)] for _, events in runs]
    assert len(decisions[0]) >= 6 and all(d["method"] == "scored" for _, d in decisions[0])
    assert len({d["move"] for _, d in decisions[0]}) > 1, "the choices follow the answers, not one position"
    came = [arrivals(events) for _, events in runs]
    assert came[2] != came[0] and came[2] != came[1], "the answers came at other points of the set"
    assert decisions[1] == decisions[0] and decisions[2] == decisions[0]
    wavs = [result.wav_path.read_bytes() for result, _ in runs]
    assert wavs[1] == wavs[0] and wavs[2] == wavs[0]
    for result, events in runs[1:]:
        verdict = replay.verify(result.log_path, warn=lambda m: None)
        assert verdict.verified and verdict.done == len(events)
