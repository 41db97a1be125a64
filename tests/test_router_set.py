"""The embedded LM dies mid-set: the router fails over, restarts it, and the set never stops."""

from __future__ import annotations

import json
import os
import signal

import msgspec
import pytest
import trio

from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.cli import main
from bergain_actors.control import Desk
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.scenario import ProviderConfig
from tests.brain_support import load, logged, of, play

pytestmark = pytest.mark.llm


async def _play_and_kill(scenario, text, tmp_path):
    """Play the set, SIGKILL the embedded server's process at bar 40, and end the set (``stop``) once the
    restarted server has answered: however long its restart takes on a loaded machine, the set outlasts it (it
    is long enough: an answer that never comes lets it end at its last bar, and the test says so)."""
    pid: list[int] = []
    served_again = trio.Event()

    def saboteur(event: ev.Event) -> None:
        if isinstance(event, ev.LocalServerChanged) and event.status == "started":
            pid.append(event.pid)
        if isinstance(event, ev.BarPlayed) and event.bar == 40:
            os.kill(pid[-1], signal.SIGKILL)
        if isinstance(event, ev.LMResponse) and event.provider == "local" and len(pid) >= 2:
            served_again.set()

    async def performer(desk: Desk) -> None:
        await served_again.wait()
        desk.submit("stop")

    return await play(scenario, text, tmp_path, on_event=saboteur, controls=performer)


async def test_killing_the_local_server_mid_set_fails_over_and_recovers(tmp_path, capsys):
    scenario, text = load("local_phrase.toml")
    answer = {"move": 1, "energy": "hold"}
    # the stand-in answers over real HTTP, slowly (a byte every 2 ms): the set cannot outrun the local restart
    canned_server = FaultServer(answer=json.dumps(answer))
    canned_server.mode, canned_server.trickle_s = "trickle", 0.002
    async with trio.open_nursery() as nursery:
        await nursery.start(canned_server.run)
        canned = ProviderConfig(name="canned", kind="openai", base_url=canned_server.url, model="m", timeout_s=10.0)
        providers = [*scenario.router.providers, canned]
        router = msgspec.structs.replace(scenario.router, providers=providers, cooldown_s=1.0)
        scenario = scenarios.replace(scenario, minutes=None, bars=1024, router=router)
        result = await _play_and_kill(scenario, text, tmp_path)
        nursery.cancel_scope.cancel()
    events = logged(result.log_path)
    killed = [e.pid for e in of(events, ev.LocalServerChanged) if e.status == "exited"]
    assert killed
    played = [e.bar for e in of(events, ev.BarPlayed)]
    assert played == list(range(len(played))) and len(played) < 1024, "every bar, and a stop once local served"
    assert of(events, ev.LMFailed) == [], "every phrase got an answer from someone"
    servers = [(e.status, e.pid) for e in of(events, ev.LocalServerChanged)]
    assert ("exited", killed[0]) in servers
    assert [s for s, _ in servers].count("started") >= 2, servers
    served = [(e.seq, e.provider) for e in of(events, ev.LMResponse)]
    exited_at = next(e.seq for e in of(events, ev.LocalServerChanged) if e.status == "exited")
    restarted_at = [e.seq for e in of(events, ev.LocalServerChanged) if e.status == "started"][1]
    assert any(p == "canned" and s > exited_at for s, p in served), "the next provider took over"
    assert any(p == "local" and s > restarted_at for s, p in served), "the restarted server serves again"
    moves = [(e.old, e.new) for e in of(events, ev.ProviderStateChanged) if e.provider == "local"]
    assert ("closed", "open") in moves and moves[-1][1] == "closed", moves
    capsys.readouterr()
    assert main(["inspect", str(result.log_path)]) == 0
    out = capsys.readouterr().out
    assert f"circuit changes  {len(of(events, ev.ProviderStateChanged))}" in out
    assert "local closed → open" in out
