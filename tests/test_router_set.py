"""The embedded LM dies mid-set: the router fails over, restarts it, and the set never stops."""

from __future__ import annotations

import os
import signal

import msgspec
import pytest
from brain_support import load, logged, of, play

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.scenario import ProviderConfig

pytestmark = pytest.mark.llm


async def test_killing_the_local_server_mid_set_fails_over_and_recovers(tmp_path, capsys):
    scenario, text = load("local_phrase.toml")
    canned = ProviderConfig(
        name="canned", kind="scripted", script=str(scenarios.PACKAGE_ROOT / "scenarios" / "phrase_answers.json")
    )
    router = msgspec.structs.replace(scenario.router, providers=[*scenario.router.providers, canned], cooldown_s=1.0)
    scenario = scenarios.replace(scenario, minutes=None, bars=128, router=router)
    killed: list[int] = []
    pid: list[int] = []

    def saboteur(event: ev.Event) -> None:
        if isinstance(event, ev.LocalServerChanged) and event.status == "started":
            pid.append(event.pid)
        if isinstance(event, ev.BarPlayed) and event.bar == 40 and not killed:
            killed.append(pid[-1])
            os.kill(pid[-1], signal.SIGKILL)

    result = await play(scenario, text, tmp_path, on_event=saboteur)
    events = logged(result.log_path)
    assert killed
    assert [e.bar for e in of(events, ev.BarPlayed)] == list(range(128))
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
    assert f"providers    {len(of(events, ev.ProviderStateChanged))}" in out
    assert "local closed → open" in out
