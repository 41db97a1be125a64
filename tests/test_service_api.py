"""The HTTP API against a real server on a free port, beside a set playing in real time: every endpoint, strict
bodies, auth beyond loopback, SSE in seq order, and a stalled client that cannot slow the set."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import mido
import pytest
import trio
from conftest import make_scenario
from service_harness import SCRIPTED, live_set, sse_events

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.service import client as clients
from bergain_actors.service.app import Api
from bergain_actors.service.frontend import HttpFrontend, NeedsToken
from bergain_actors.service.http import listen, serve_app
from bergain_actors.service.session import router_session
from bergain_actors.service.stream import EventStream

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fast_scenario(scenario_factory):
    """1 s bars, long enough that no test outlives the set."""
    return lambda **changes: scenario_factory(bpm=240, bars=96, **changes)


async def test_health_reports_the_set_as_it_plays(fast_scenario, tmp_path):
    async with live_set(fast_scenario(), tmp_path) as live, httpx.AsyncClient(base_url=live.url) as client:
        await live.bar(2)
        health = (await client.get("/health")).json()
        played = max(e.bar for e in live.of(ev.BarPlayed))
        assert health["status"] == "ok" and health["playing"] is True
        assert health["set"]["bar"] in (played, played + 1)  # a bar may end between the two reads
        assert health["set"]["brain"] == "autopilot" and health["set"]["critic"] == "arc"
        assert health["set"]["phase"] == live.of(ev.PhaseChanged)[-1].phase
        assert {layer["role"] for layer in health["set"]["layers"]} >= {"kick"}
        assert health["uptime_s"] > 0
        spec = (await client.get("/openapi.json")).json()
        assert {"/health", "/providers", "/ask", "/clip", "/control", "/events"} <= set(spec["paths"])
        assert "ControlBody" in spec["components"]["schemas"]
        page = await client.get("/")
        assert page.status_code == 200 and "EventSource" in page.text


async def test_control_is_an_event_first_and_takes_effect(fast_scenario, tmp_path):
    async with live_set(fast_scenario(), tmp_path) as live, httpx.AsyncClient(base_url=live.url) as client:
        await live.bar(1)
        answer = await client.post("/control", json={"command": "swap critic none"}, headers={"x-request-id": "r-1"})
        assert answer.status_code == 202
        seq = answer.json()["seq"]
        with trio.fail_after(60):  # the next bar line; generous for a loaded machine
            while not live.of(ev.ActorSwapped):
                await live.bar(live.latest() + 1)
        swapped = live.of(ev.ActorSwapped)[0]
        assert (swapped.slot, swapped.new, swapped.cause) == ("critic", "none", seq)
        control = next(e for e in live.of(ev.Control) if e.seq == seq)
        assert control.request_id == "r-1" and control.args == {"slot": "critic", "kind": "none"}
        assert (await client.get("/health")).json()["set"]["critic"] == "none"
    logged = [e for e in read_all(live.log_path)[1] if isinstance(e, ev.Control)]
    assert [e.seq for e in logged] == [seq]


async def test_bad_bodies_get_a_json_error_naming_the_field(fast_scenario, tmp_path):
    async with live_set(fast_scenario(), tmp_path) as live, httpx.AsyncClient(base_url=live.url) as client:
        bad = await client.post("/control", content=b'{"command": "stop"')
        assert bad.status_code == 400 and "malformed JSON" in bad.json()["error"]
        odd = (await client.post("/control", content=b"{bad")).json()["error"]
        assert (
            odd == "malformed JSON: object keys must be strings (byte 1)"
        )  # before: "malformed JSON: JSON is malformed: …"
        wrong = await client.post("/control", json={"command": 7})
        assert wrong.status_code == 422 and wrong.json()["field"] == "command"
        unknown = await client.post("/control", json={"command": "stop", "force": True})
        assert unknown.status_code == 422 and unknown.json()["field"] == "force"
        missing = await client.post("/ask", json={})
        assert missing.status_code == 422 and missing.json()["field"] == "question"
        nonsense = await client.post("/control", json={"command": "swap critic"})
        assert nonsense.status_code == 422 and "swap needs a slot and a kind" in nonsense.json()["error"]
        huge = await client.post("/control", content=b"x" * (10 << 20), headers={"content-type": "application/json"})
        assert huge.status_code == 413
        unknown_provider = await client.post("/providers/nobody/reset")
        assert unknown_provider.status_code == 404
        assert (await client.get("/health")).status_code == 200  # the server is still up
    assert not [
        e
        for e in live.events
        if isinstance(e, ev.Control | ev.ProviderControl | ev.SetEnded) and getattr(e, "reason", "") != "interrupted"
    ]


def test_an_address_in_use_is_refused_before_the_set_starts(tmp_path, capsys):
    taken = HttpFrontend("127.0.0.1", 0, None)
    with pytest.raises(OSError):
        HttpFrontend("127.0.0.1", taken.port, None)
    autopilot = Path(__file__).resolve().parents[1] / "scenarios" / "autopilot.toml"
    argv = ["run", str(autopilot), "--fast", "--http", f"127.0.0.1:{taken.port}", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert f"--http: cannot listen on 127.0.0.1:{taken.port}: Address already in use" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was written
    taken.sock.close()


def test_binding_beyond_loopback_needs_a_token():
    with pytest.raises(NeedsToken, match="--token-env"):
        HttpFrontend("0.0.0.0", 0, None)
    HttpFrontend("::1", 0, None)  # loopback needs none


async def test_token_guards_every_route(fast_scenario, tmp_path):
    async with live_set(fast_scenario(), tmp_path, token="s3cret", host="0.0.0.0") as live:
        url = f"http://127.0.0.1:{live.http.port}"
        async with httpx.AsyncClient(base_url=url) as client:
            for method, path in (("GET", "/health"), ("GET", "/providers"), ("GET", "/"), ("POST", "/control")):
                assert (await client.request(method, path, json={"command": "stop"})).status_code == 401
            wrong = await client.get("/health", headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = await client.get("/health", headers={"authorization": "Bearer s3cret"})
            assert ok.status_code == 200
            assert (await client.get("/health?token=s3cret")).status_code == 200
        hint = "401 missing or wrong bearer token; give the API's token with --token-env NAME"  # before: no way out
        for ask in (clients.playing(url, None), clients.post(url, "/control", {"command": "stop"}, "nope")):
            with pytest.raises(clients.ApiError, match=hint):
                await ask
        assert not live.of(ev.Control)


async def test_sse_delivers_every_event_in_seq_order(fast_scenario, tmp_path):
    async with live_set(fast_scenario(), tmp_path) as live, httpx.AsyncClient(base_url=live.url) as client:
        got = [event async for event in sse_events(client, 12)]
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(seqs[0], seqs[0] + 12))
    logged = {e.seq: type(e).__name__ for e in live.events}
    assert [e["type"] for e in got] == [logged[s] for s in seqs]


async def test_a_stalled_sse_client_never_holds_the_set(fast_scenario, tmp_path):
    async with live_set(fast_scenario(), tmp_path) as live, httpx.AsyncClient(base_url=live.url) as client:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        stalled.connect(("127.0.0.1", live.http.port))
        stalled.sendall(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")  # and never read a byte
        start = live.latest()
        healthy = [e async for e in sse_events(client, 16)]
        await live.bar(start + 6)
        stalled.close()
    assert [e["seq"] for e in healthy] == list(range(healthy[0]["seq"], healthy[0]["seq"] + 16))
    assert not live.of(ev.BarHeld) and not live.of(ev.ActorOverloaded)


async def test_a_client_that_falls_behind_is_dropped_without_blocking_the_publisher():
    stream = EventStream(queue=4)
    frames = stream.subscribe()
    assert await frames.__anext__() == b": connected\n\n"  # subscribed; never reads again
    for seq in range(1, 50):
        stream.publish(ev.SetEnded(reason="x", seq=seq))  # synchronous: would deadlock if it waited
    assert stream.dropped == 1 and not stream.clients
    got = [frame async for frame in frames]
    assert [json.loads(frame[6:])["seq"] for frame in got] == [1, 2, 3, 4]  # what it had, then a clean end


async def test_providers_are_listed_and_changed_by_events(fast_scenario, tmp_path):
    scenario = fast_scenario(router=SCRIPTED)
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url) as client:
        await live.bar(1)
        rows = (await client.get("/providers")).json()
        assert [(r["name"], r["state"], r["symbol"], r["failures"]) for r in rows] == [("scripted", "closed", "●", 0)]
        added = await client.post(
            "/providers", json={"name": "spare", "kind": "scripted", "script": SCRIPTED["providers"][0]["script"]}
        )
        assert added.status_code == 202
        bad = await client.post("/providers", json={"name": "x", "kind": "scripted", "timeout_s": -1})
        assert bad.status_code == 422 and bad.json()["field"] == "timeout_s"
        switched = await client.post("/providers/spare/switch")
        reset = await client.post("/providers/scripted/reset")
        removed = await client.delete("/providers/scripted")
        assert [r.status_code for r in (switched, reset, removed)] == [202, 202, 202]
        rows = (await client.get("/providers")).json()
        assert [r["name"] for r in rows] == ["spare"] and rows[0]["preferred"] is True
    ops = [(e.op, e.provider, e.seq) for e in live.of(ev.ProviderControl)]
    assert [(op, name) for op, name, _ in ops] == [
        ("add", "spare"),
        ("switch", "spare"),
        ("reset", "scripted"),
        ("remove", "scripted"),
    ]
    assert [seq for *_, seq in ops] == [r.json()["seq"] for r in (added, switched, reset, removed)]
    assert live.of(ev.ProviderHealth)[-1].order == ("spare",)


async def test_the_router_alone_answers_provider_requests_and_refuses_set_commands(tmp_path):
    scenario = make_scenario(tmp_path, router=SCRIPTED)
    async with router_session(scenario) as session, trio.open_nursery() as nursery:
        port = await nursery.start(serve_app, Api(session).app, listen("127.0.0.1", 0))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = (await client.get("/health")).json()
            steer = await client.post("/control", json={"command": "darker"})
            reset = await client.post("/control", json={"command": "provider reset scripted"})
            asked = await client.post("/ask", json={"question": "what key are we in?"})
            into_no_set = await client.post("/clip", json={"prompt": "2-bar acid bassline", "target": "set"})
        out = tmp_path / "from-the-router.mid"
        argv = ["clip", "2-bar acid bassline", "--url", f"http://127.0.0.1:{port}", "--midi", str(out)]
        clipped = await trio.to_thread.run_sync(main, argv)  # the command line, as a user runs it
        nursery.cancel_scope.cancel()
    assert health["playing"] is False and health["providers"] == {"scripted": "closed"}
    assert steer.status_code == 409 and "no set is playing" in steer.json()["error"]
    assert reset.status_code == 202
    context = asked.json()["context"]
    assert asked.status_code == 200 and context["playing"] is False and "key" not in context  # no set: no key
    assert asked.json()["answer"] == "No set is playing." and context["providers"] == {"scripted": "closed"}
    assert clipped == 0 and mido.MidiFile(str(out)).length > 0  # no set: the notes only, into the file
    assert into_no_set.status_code == 422 and into_no_set.json()["field"] == "target"  # was "prompt"
