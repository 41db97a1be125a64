"""The rough edges a performer hit (issue 20): the end of a set reaches every client, the tempo that plays is the
one shown everywhere, every error is JSON, Ctrl-C is clean, ``serve --minutes``, an interrupted set's report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest
import trio
from conftest import make_scenario
from service_harness import SCRIPTED, live_set
from test_interrupt import signal_when
from test_signals import signal_after_bar

from bergain_actors.cli import main
from bergain_actors.control import parse
from bergain_actors.control.desk import answer
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.core.summary import Summary
from bergain_actors.music.plan import BarPlan
from bergain_actors.service.app import MAX_BODY, Api
from bergain_actors.service.http import listen, serve_app
from bergain_actors.service.session import router_session
from tests.conftest import AUTOPILOT

pytestmark = pytest.mark.timeout(180)


async def test_every_sse_client_gets_the_set_ended_before_the_server_goes(scenario_factory, tmp_path):
    scenario = scenario_factory(bpm=240, bars=8)
    got: list[list[dict]] = [[], []]
    async with live_set(scenario, tmp_path) as live:

        async def listen_to(index: int) -> None:
            async with (
                httpx.AsyncClient(base_url=live.url, timeout=60) as client,
                client.stream("GET", "/events") as stream,
            ):
                async for line in stream.aiter_lines():  # until the server closes the stream
                    if line.startswith("data: "):
                        got[index].append(json.loads(line[6:]))

        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                for index in range(len(got)):
                    nursery.start_soon(listen_to, index)
                await live.ended.wait()
    logged = read_all(live.log_path)[1]
    assert isinstance(logged[-1], ev.SetEnded)
    for events in got:
        assert events, "the client heard nothing"
        assert events[-1]["type"] == "SetEnded" and events[-1]["seq"] == logged[-1].seq
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], logged[-1].seq + 1))  # nothing lost at the end either


async def test_every_error_is_the_same_json_shape(tmp_path):
    scenario = make_scenario(tmp_path, router=SCRIPTED)
    async with router_session(scenario) as session, trio.open_nursery() as nursery:
        port = await nursery.start(serve_app, Api(session).app, listen("127.0.0.1", 0))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            missing = await client.get("/nowhere")
            method = await client.delete("/health")
            huge = await client.post("/control", content=b"x" * (MAX_BODY + 1))
            icon = await client.get("/favicon.ico")
        nursery.cancel_scope.cancel()
    for response, status in ((missing, 404), (method, 405), (huge, 413)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json", response.text
        assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert "GET /nowhere" in missing.json()["error"]
    assert "GET" in method.headers["allow"]
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"


async def test_the_tempo_playing_mid_glide_is_what_health_and_ask_say(scenario_factory, tmp_path):
    scenario = scenario_factory(bpm=240, bars=96, router=SCRIPTED)
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=60) as client:
        await live.bar(1)
        asked = await client.post("/control", json={"command": "tempo 270"})
        assert asked.status_code == 202 and "no rule" not in asked.json()["answer"]
        plans = {}
        with trio.fail_after(90):
            while True:
                await live.bar(live.latest() + 1)
                plans = {e.seq: e.plan.bpm for e in live.of(ev.BarPlanned)}
                played = [plans[e.plan_seq] for e in live.of(ev.BarPlayed)]
                if 240 < played[-1] < 270:  # mid-glide
                    break
        health = (await client.get("/health")).json()["set"]
        context = (await client.post("/ask", json={"question": "how fast are we?"})).json()["context"]
        played = [plans.get(e.plan_seq) for e in live.of(ev.BarPlayed)]
    assert health["bpm"] in played[-3:] and 240 < health["bpm"] <= 270
    assert context["tempo_bpm"] in played[-3:] and context["tempo_bpm"] > 240
    assert health["tempo_by_bar"][0] == [0, 240] and health["tempo_by_bar"][-1][1] == health["bpm"]


def test_the_tempo_command_says_a_glide_is_coming():
    said = answer(ev.Steer(intent="tempo", text="tempo 132", value=132, absolute=True, seq=9), [])
    assert said.ok and said.text.startswith("tempo to 132 BPM: the glide starts at the next 4-bar line")
    assert "+2 BPM" in answer(parse("tempo +2"), []).text


async def test_a_tempo_beyond_the_limits_is_answered_with_the_tempo_the_set_will_glide_to(scenario_factory, tmp_path):
    async with live_set(scenario_factory(bars=24), tmp_path) as live, httpx.AsyncClient(base_url=live.url) as client:
        await live.bar(1)
        said = (await client.post("/control", json={"command": "tempo 999"})).json()["answer"]
        relative = (await client.post("/control", json={"command": "tempo -2"})).json()["answer"]
        with trio.fail_after(90):
            while len(live.of(ev.SteerActed)) < 2:
                await live.bar(live.latest() + 1)
    assert said.startswith("tempo to 153.6 BPM (999 asked; kept within 102.4-153.6 BPM): the glide starts")  # was 999
    assert relative.startswith("tempo -2 BPM (kept within 102.4-153.6 BPM): the glide starts")
    assert live.of(ev.SteerActed)[0].action.startswith("ok: tempo glides from 128 to 153.6 BPM")


def test_the_summary_gives_the_tempos_played_and_splits_stalls_from_performer_holds():
    summary = Summary()
    summary.add(
        ev.SetStarted(name="s", seed=1, bpm=128, beats_per_bar=4, total_bars=6, sample_rate=44100, lookahead_bars=2)
    )
    for bar, bpm in enumerate((128, 128, 130, 132, 132, 132)):
        summary.add(ev.BarPlanned(plan=BarPlan(bar=bar, bpm=bpm), seq=10 + bar * 3, bar=bar))
        if bar == 2:
            summary.add(ev.SteerActed(intent="hold", action="holding", bar=2))
        if bar == 5:
            summary.add(ev.SteerActed(intent="resume", action="resuming", bar=5))
        summary.add(ev.BarPlayed(plan_seq=10 + bar * 3, bar=bar))
    summary.add(ev.BarHeld(plan_seq=25, bar=6))
    lines = summary.lines()
    assert lines[0].startswith("set          s — 6/6 bars at 128–132 BPM")
    assert summary.seconds_played == pytest.approx(sum(4 * 60 / bpm for bpm in (128, 128, 130, 132, 132, 132)))
    assert lines[1].startswith("stalls       1 (bars the engine played again")
    assert lines[2] == "performer    1 holds, 3 bars held"


def test_serve_takes_minutes(tmp_path, capsys):
    argv = ["serve", str(AUTOPILOT), "--minutes", "0.25", "--fast", "--port", "0", "--out", str(tmp_path)]
    assert main(argv) == 0
    (log,) = tmp_path.glob("*.bgnlog")
    started = next(e for e in read_all(log)[1] if isinstance(e, ev.SetStarted))
    assert started.total_bars == 8  # a quarter minute at 128 BPM
    assert main(["serve", "--minutes", "1", "--port", "0"]) == 2
    assert "give the SCENARIO" in capsys.readouterr().err
    assert main(["serve", "--fast", "--out", str(tmp_path / "sets"), "--port", "0"]) == 2  # before: the router served
    assert capsys.readouterr().err == (
        "bergain-actors: serve: --fast, --out: a set's; give the SCENARIO to play (without one the router alone"
        " answers)\n"
    )


def test_mcp_without_a_scenario_refuses_a_sets_flags(tmp_path, capsys):
    assert main(["mcp", "--no-audio", "--no-report"]) == 2  # before: ignored, the router served on stdio
    assert capsys.readouterr().err == (
        "bergain-actors: mcp: --no-audio, --no-report: a set's; give the SCENARIO to play (without one the router"
        " alone answers)\n"
    )
    assert main(["serve", "--bars", "0", "--port", "0"]) == 2  # a length, even a wrong one, is a set's
    assert "serve: --bars: a set's" in capsys.readouterr().err


def _sigint_blocked() -> None:
    """As a runner that blocks SIGINT leaves its children (the mask is inherited through exec)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


@pytest.mark.parametrize("start", [None, _sigint_blocked], ids=["plain", "sigint-blocked"])
def test_ctrl_c_on_serve_without_a_set_exits_130_without_a_traceback(tmp_path, start):
    argv = [sys.executable, "-m", "bergain_actors.cli", "serve", "--port", "0"]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path, preexec_fn=start
    )
    err = signal_when(process, lambda line: "HTTP API (router only)" in line)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "interrupted" in err


def test_an_interrupted_run_writes_its_report(tmp_path):
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(AUTOPILOT), "--no-audio", "--minutes", "600"]
    argv += ["--out", str(tmp_path), "--log-format", "json"]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    err = signal_after_bar(process, signal.SIGINT, 8)
    assert process.returncode == 130, err[-2000:]
    (log,) = tmp_path.glob("*.bgnlog")
    report = log.with_suffix(".html")
    assert report.exists() and f"report {report}" in err
    assert "interrupted" in report.read_text()
