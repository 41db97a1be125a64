"""Prompt → clip into Ableton (the real AbletonOSC on the simulated Live), through the HTTP API of a live-mode set:
into a slot of its track, and into the running set, where Live plays its notes."""

from __future__ import annotations

import httpx
import pytest
import trio
from service_harness import SCRIPTED, live_set

from bergain_actors.actors.ableton.osc import OscClient
from bergain_actors.core import events as ev
from tests.ableton_peer import free_udp_port, peer_factory  # noqa: F401 - the fixture
from tests.ableton_sets import ableton_scenario, played_notes

pytestmark = pytest.mark.timeout(240)


async def until(live, kind: type[ev.Event], test, bars: int = 40) -> ev.Event:
    """The first event of ``kind`` passing ``test``, waiting bar by bar (Live runs in real time)."""
    with trio.fail_after(bars * 1.5):
        while True:
            found = [e for e in live.of(kind) if test(e)]
            if found:
                return found[0]
            await live.bar(live.latest() + 1)


async def test_a_clip_goes_into_a_free_slot_of_its_track_in_live(peer_factory, tmp_path):  # noqa: F811
    peer = peer_factory(fork=True, tick_ms=20, clock_ms=10)  # the fork answers a second client (the test's)
    scenario = ableton_scenario(tmp_path, peer, bars=200, router=SCRIPTED)
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await until(live, ev.AbletonStatus, lambda e: e.state == "connected")
        made = await client.post("/clip", json={"prompt": "4-bar acid bassline in A minor", "target": "ableton"})
        assert made.status_code == 201, made.text
        clip = made.json()
        written = await until(live, ev.ClipWritten, lambda e: e.cause == clip["seq"])
        tracks = next(e for e in live.of(ev.AbletonStatus) if e.state == "connected").tracks
        async with OscClient("127.0.0.1", peer.port, free_udp_port()) as osc:
            got = await osc.query("/live/clip/get/notes", written.track, written.slot)
            (name,) = await osc.query("/live/clip/get/name", written.track, written.slot)
            (length,) = await osc.query("/live/clip/get/length", written.track, written.slot)
    assert (written.role, written.track, written.notes) == ("bass", tracks["bass"], len(clip["notes"]))
    assert written.slot >= 4  # past the ring of slots live mode cycles through
    live_notes = sorted((int(got[i]), round(float(got[i + 1]), 3)) for i in range(0, len(got), 5))
    asked = sorted((n["pitch"], round(n["start"], 3)) for n in clip["notes"])
    assert live_notes == asked
    assert name == "4-bar acid bassline in A minor" and float(length) == 16.0


async def test_a_clip_in_the_running_set_is_played_by_live(peer_factory, tmp_path):  # noqa: F811
    peer = peer_factory(tick_ms=20, clock_ms=10)
    scenario = ableton_scenario(tmp_path, peer, bars=200, router=SCRIPTED, conductor={"phrase_bars": 4})
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await until(live, ev.AbletonStatus, lambda e: e.state == "connected")
        made = await client.post("/clip", json={"prompt": "4-bar acid bassline in A minor"})
        assert made.status_code == 201, made.text
        clip = made.json()
        start = clip["from_bar"]
        await live.bar(start + 5)
        origin = live.of(ev.LiveBeat)[-1].origin
        tracks = next(e for e in live.of(ev.AbletonStatus) if e.state == "connected").tracks
    beats = 4
    window = ((origin + start) * beats, (origin + start + 4) * beats)
    with trio.fail_after(30):
        while True:
            events = peer.events()
            if any(e.get("song_time", -1) >= window[1] for e in events if e["event"] == "note"):
                break
            await trio.sleep(0.2)  # another process's file: nothing in-process to wait on
    heard = {
        (pitch, round(t - window[0], 2))
        for role, pitch, t, _ in played_notes(events, tracks, *window)
        if role == "bass"
    }
    planned = {(n["pitch"], round(n["start"], 2)) for n in clip["notes"]}
    close = {(p, t) for p, t in planned if any(hp == p and 0 <= ht - t <= 0.25 for hp, ht in heard)}
    assert close == planned  # every note of the clip sounded in Live, on its beat (within an engine step)
