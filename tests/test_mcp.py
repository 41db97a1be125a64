"""The MCP server, driven by the official SDK's own client: over stdio (``bergain-actors mcp SCENARIO`` started as a
subprocess, the way Claude Desktop starts it) and over streamable HTTP (``/mcp`` on the API, behind its token). A
session lists the tools, steers a playing set, sees the steer acted on (``SteerActed`` caused by its event), and the
log then verifies and re-renders exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import httpx2
import mido
import pytest
import trio
from conftest import ROOT, make_scenario
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from service_harness import SCRIPTED, live_set

from bergain_actors import replay
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.service.mcp_tools import SetTools
from bergain_actors.service.session import router_session

pytestmark = pytest.mark.timeout(240)

TOOLS = {"status", "steer", "energy", "tempo", "hold", "resume", "stop", "swap", "providers", "intent", "ask", "clip"}
TOOLS |= {"events"}
RESOURCES = {"bergain://set/state", "bergain://set/summary"}


async def steer_and_see_it_acted(client: Client) -> tuple[int, dict]:
    """List the tools, steer 'darker', wait (on the server, no polling loop of our own) for the SteerActed it
    caused; returns the steer's seq and that event."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) >= TOOLS, TOOLS - set(tools)
    assert tools["status"].annotations.read_only_hint and tools["stop"].annotations.destructive_hint
    assert tools["steer"].input_schema["required"] == ["words"]
    assert {str(r.uri) for r in (await client.list_resources()).resources} == RESOURCES
    playing = await client.call_tool("status", {})
    assert playing.structured_content["playing"] is True and not playing.is_error
    steered = await client.call_tool("steer", {"words": "darker"})
    assert not steered.is_error and "code reads: darker" in steered.content[0].text
    seq = steered.structured_content["seq"]
    acted: list[dict] = []
    while not acted:  # each call waits up to 10 s on the server for the next SteerActed
        found = await client.call_tool("events", {"since": seq, "types": ["SteerActed"], "wait_s": 10})
        acted = [e for e in found.structured_content["events"] if e["cause"] == seq]
    return seq, acted[0]


async def stop_now(client: Client) -> int:
    stopping = await client.call_tool("stop", {"now": True})
    assert not stopping.is_error and "stopping at the next bar line" in stopping.content[0].text
    return stopping.structured_content["seq"]


async def stop_and_see_the_end(client: Client) -> None:
    """Over stdio the server outlives the set: the client sees it end and reads the final summary."""
    await stop_now(client)
    ended: list[dict] = []
    while not ended:
        found = await client.call_tool("events", {"since": 0, "types": ["SetEnded"], "wait_s": 10})
        ended = found.structured_content["events"]
    assert ended[0]["reason"] == "stopped"
    late = await client.call_tool("steer", {"words": "brighter"})
    assert late.is_error and "the set has ended" in late.content[0].text
    summary = (await client.read_resource("bergain://set/summary")).contents[0].text
    assert "stopped" in summary and "1 steers answered" in summary


def assert_replays_exactly(log: Path, wav: Path, steer_seq: int, acted: dict, tmp_path: Path) -> None:
    _, events, problem = read_all(log)
    assert problem is None
    steer = next(e for e in events if e.seq == steer_seq)
    assert isinstance(steer, ev.Steer) and steer.text == "darker"
    logged = next(e for e in events if isinstance(e, ev.SteerActed) and e.cause == steer_seq)
    assert (logged.seq, logged.intent, logged.action) == (acted["seq"], "darker", acted["action"])
    verdict = replay.verify(log, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(events)
    again = tmp_path / "again.wav"
    rendered = replay.render(log, again, warn=lambda m: None)
    assert rendered.complete and rendered.mismatch is None
    assert again.read_bytes() == wav.read_bytes()


def scenario_file(tmp_path: Path) -> Path:
    """1 s bars (240 BPM), long enough that the test stops the set before it ends by itself."""
    path = tmp_path / "quick.toml"
    path.write_text(
        f'name = "quick"\nseed = 7\nbpm = 240\nbars = 96\nsample_pack = "{ROOT / "sample_pack"}"\n'
        '[conductor]\nkind = "autopilot"\nphrase_bars = 16\n[critic]\nkind = "arc"\nevery_bars = 8\n'
    )
    return path


async def test_a_stdio_session_steers_a_playing_set_that_replays_exactly(tmp_path):
    out = tmp_path / "out"
    command = [str(Path(sys.executable).with_name("bergain-actors")), "mcp", str(scenario_file(tmp_path))]
    params = StdioServerParameters(
        command=command[0], args=[*command[1:], "--no-audio", "--no-report", "--out", str(out)]
    )
    with (tmp_path / "server.err").open("w") as errlog, trio.fail_after(180):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            seq, acted = await steer_and_see_it_acted(client)
            await stop_and_see_the_end(client)
    stderr = (tmp_path / "server.err").read_text()
    assert 'you: "darker"' in stderr and "stopped" in stderr  # the play-by-play and summary went to stderr
    (log,) = out.glob("*.bgnlog")
    assert_replays_exactly(log, log.with_suffix(".wav"), seq, acted, tmp_path)


async def test_a_client_that_leaves_mid_set_stops_it_with_an_event(tmp_path):
    out = tmp_path / "out"
    args = ["mcp", str(scenario_file(tmp_path)), "--no-audio", "--no-report", "--out", str(out)]
    params = StdioServerParameters(command=str(Path(sys.executable).with_name("bergain-actors")), args=args)
    with (tmp_path / "server.err").open("w") as errlog, trio.fail_after(120):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:  # the pre-2026 handshake
            played: list[dict] = []
            while not played:
                found = await client.call_tool("events", {"types": ["BarPlayed"], "wait_s": 10})
                played = found.structured_content["events"]
    # the SDK closed our stdin and gave the server its grace period (then SIGTERM): the log is whole either way
    (log,) = out.glob("*.bgnlog")
    _, events, problem = read_all(log)
    assert problem is None and isinstance(events[-1], ev.SetEnded)
    (stop,) = [e for e in events if isinstance(e, ev.Control)]
    assert stop.args == {"now": True} and stop.request_id.startswith("mcp:")
    assert "the MCP client left: stopping" in (tmp_path / "server.err").read_text()
    assert replay.verify(log, warn=lambda m: None).verified


async def test_an_http_session_behind_the_token_steers_the_set_that_replays_exactly(scenario_factory, tmp_path):
    scenario = scenario_factory(bpm=240, bars=96, router=SCRIPTED)
    async with live_set(scenario, tmp_path, token="s3cret", host="0.0.0.0") as live:
        url = f"http://127.0.0.1:{live.http.port}/mcp"
        async with httpx.AsyncClient(timeout=30) as plain:
            refused = await plain.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert refused.status_code == 401 and refused.json()["error"] == "missing or wrong bearer token"
        auth = httpx2.AsyncClient(headers={"authorization": "Bearer s3cret"}, timeout=30)
        with trio.fail_after(120):
            async with auth, Client(streamable_http_client(url, http_client=auth)) as client:
                seq, acted = await steer_and_see_it_acted(client)
                asked = await client.call_tool("ask", {"question": "what key are we in?"})
                assert not asked.is_error and asked.structured_content["answer"].startswith("We are in A minor")
                listed = await client.call_tool("providers", {})
                assert [p["name"] for p in listed.structured_content["providers"]] == ["scripted"]
                reset = await client.call_tool("providers", {"op": "reset", "name": "scripted"})
                assert not reset.is_error and reset.structured_content["seq"] > 0
                martian = await client.call_tool("providers", {"op": "add", "name": "bad", "kind": "martian"})
                assert martian.is_error and martian.content[0].text.startswith("rejected: provider")
                stop_seq = await stop_now(client)
        with trio.fail_after(30):
            await live.ended.wait()
    assert_replays_exactly(live.log_path, live.wav_path, seq, acted, tmp_path)
    asks = [e for e in live.events if isinstance(e, ev.LMRequest) and e.purpose == "ask"]
    assert not asks  # the key is the set's state: no LM call
    assert live.of(ev.StopPlanned)[0].cause == stop_seq


async def test_commands_that_cannot_apply_are_refused_and_rejections_carry_their_event(scenario_factory, tmp_path):
    async with live_set(scenario_factory(bpm=240, bars=96), tmp_path) as live:
        async with Client(f"{live.url}/mcp") as client:  # loopback: no token, the SDK's DNS-rebinding guard
            bad = await client.call_tool("energy", {"change": "7"})
            assert bad.is_error and "energy: '7' is not" in bad.content[0].text
            rejected = next(e for e in live.of(ev.CommandRejected) if e.seq == bad.structured_content["seq"])
            assert rejected.command == "energy 7"
            spaced = await client.call_tool("swap", {"slot": "critic none", "kind": "x"})
            assert spaced.is_error and "one word without spaces" in spaced.content[0].text
            swapped = await client.call_tool("swap", {"slot": "critic", "kind": "none"})
            assert not swapped.is_error and swapped.content[0].text == "swap critic → none at the next bar line"
            await live.bar(0)  # before the first bar the answer is that nothing has played yet
            no_router = await client.call_tool("ask", {"question": "key?"})  # facts need no LM router
            assert not no_router.is_error and no_router.structured_content["answer"] == "We are in A minor."
            read = await client.call_tool("intent", {"words": "dark hypnotic warehouse"})
            assert not read.is_error and [i["kind"] for i in read.structured_content["intents"]] == [
                "darker",
                "hypnotic",
            ]
            assert read.structured_content["command"] == "darker" and "'darker'" in read.content[0].text
            assert "no LM router" in read.structured_content["fallback"]  # this set has none: code alone, said
        commands = [e for e in live.events if isinstance(e, ev.Control | ev.Steer | ev.CommandRejected)]
        # the spaced swap never reached the desk, and reading the words applied nothing
        assert [type(e) for e in commands] == [ev.CommandRejected, ev.Control]
        foreign = await httpx.AsyncClient().post(
            f"{live.url}/mcp", json={}, headers={"host": "evil.example", "content-type": "application/json"}
        )
        assert foreign.status_code in (403, 421)


async def test_the_router_alone_makes_a_clip_as_a_midi_file_and_refuses_set_commands(tmp_path):
    async with (
        router_session(make_scenario(tmp_path, router=SCRIPTED)) as session,
        Client(SetTools(session).server) as client,  # the SDK's in-process connection
    ):
        refused = await client.call_tool("steer", {"words": "darker"})
        assert refused.is_error and "no set is playing here" in refused.content[0].text
        made = await client.call_tool("clip", {"prompt": "4-bar acid bassline in A minor", "target": "midi"})
        assert not made.is_error, made.content[0].text
    path = Path(made.structured_content["midi_path"])
    assert path.parent == tmp_path and path.suffix == ".mid"
    notes = [m for track in mido.MidiFile(path).tracks for m in track if m.type == "note_on" and m.velocity]
    assert len(notes) == len(made.structured_content["notes"])
    blob = made.content[1].resource
    assert blob.mime_type == "audio/midi" and blob.uri == path.resolve().as_uri()
