"""Prompt → clip through the API with the scripted provider: the LM's scores choose among the candidates, the
clip joins the running set at its next phrase and is heard there, the words choose when no LM can, and a set
steered over HTTP replays exactly."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import soundfile as sf
import trio
from conftest import ROOT
from service_harness import SCRIPTED, live_set

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.music.clip import CLIP_RANGES
from bergain_actors.music.render import Renderer
from bergain_actors.music.theory import set_theory
from bergain_actors.performance import load_pack

pytestmark = pytest.mark.timeout(180)

A_MINOR = {9, 11, 0, 2, 4, 5, 7}


@pytest.fixture
def scripted_set(scenario_factory):
    return lambda **changes: scenario_factory(**{"bpm": 240, "bars": 96, "router": SCRIPTED, **changes})


def played_plans(events: list[ev.Event]) -> list:
    plans = {e.seq: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    return [plans[e.plan_seq] for e in events if isinstance(e, ev.BarPlayed)]


async def test_a_prompt_becomes_a_clip_in_key_that_the_set_plays_from_its_next_phrase(scripted_set, tmp_path):
    scenario = scripted_set(conductor={"phrase_bars": 4})
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await live.bar(1)
        made = await client.post("/clip", json={"prompt": "4-bar bassline in A minor"})  # words leave all open
        assert made.status_code == 201, made.text
        clip = made.json()
        start = clip["from_bar"]
        await live.bar(start + 4)
    assert (clip["role"], clip["key"], clip["bars"]) == ("bass", "A minor", 4)
    low, high = CLIP_RANGES["bass"]
    assert all(low <= n["pitch"] <= high and n["pitch"] % 12 in A_MINOR for n in clip["notes"])
    assert all(n["start"] >= 0 and n["start"] + n["length"] <= 16 for n in clip["notes"])
    assert clip["candidate"] == "acid" and clip["how"].startswith("chosen by scripted, scored")
    assert clip["choice"]["calibrated"][2] == max(clip["choice"]["calibrated"])  # the script scores the acid line
    added = next(e for e in live.of(ev.ClipAdded) if e.seq == clip["seq"])
    assert [n.pitch for n in added.notes] == [n["pitch"] for n in clip["notes"]]
    assert start % 4 == 0 and start > added.bar
    plans = played_plans(live.events)
    with_clip = [p.bar for p in plans if any(layer.role == "clip_bass" for layer in p.layers)]
    assert with_clip[0] == start and with_clip == list(range(start, plans[-1].bar + 1))
    # heard from that phrase on: the same plans rendered without the clip differ exactly from bar `start`
    pack = load_pack(scenario)
    heard, silent = Renderer(pack, 44100), Renderer(pack, 44100)
    first_difference = None
    for plan in plans:
        bare = plan.__class__(
            **{
                **{f: getattr(plan, f) for f in plan.__struct_fields__},
                "layers": tuple(layer for layer in plan.layers if layer.kind != "notes"),
            }
        )
        if not np.array_equal(heard.render(plan), silent.render(bare)) and first_difference is None:
            first_difference = plan.bar
    assert first_difference == start


async def test_bad_prompts_and_a_dead_provider_get_clear_answers(scenario_factory, tmp_path):
    dead = {"providers": [{"name": "gone", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "timeout_s": 2}]}
    scenario = scenario_factory(bpm=240, bars=96, router=dead)
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        vague = await client.post("/clip", json={"prompt": "something nice"})
        assert vague.status_code == 422 and vague.json()["field"] == "prompt"
        outage = await client.post("/clip", json={"prompt": "2-bar bassline", "target": "none"})
        assert outage.status_code == 201, outage.text  # the first candidate when no LM can, and the reply says so
        body = outage.json()
        assert body["candidate"] == "offbeat" and body["how"].startswith("chosen by keywords: no LM could answer")
        worded = (await client.post("/clip", json={"prompt": "2-bar acid bassline", "target": "none"})).json()
        assert (worded["candidate"], worded["how"]) == ("acid", "chosen by the words")  # no LM asked
        timed = (await client.post("/clip", json={"prompt": "2-bar acid bassline at 130 bpm", "target": "none"})).json()
        assert timed["how"] == (  # before: the tempo was dropped without a word
            "chosen by the words; 130 BPM: a clip has no tempo of its own, it plays at its set's (MIDI: the scenario's)"
        )
        await live.bar(1)  # before its first bar a set says it is starting (tests/test_ask_grounded.py)
        asked = await client.post("/ask", json={"question": "what key are we in?"})
        assert asked.status_code == 200 and asked.json()["answer"] == "We are in A minor."  # the state, not an LM
        assert (await client.get("/health")).json()["playing"] is True
    assert not live.of(ev.ClipAdded) and not live.of(ev.BarHeld)


async def test_ask_answers_from_the_sets_state_and_an_instruction_waits_for_its_confirmation(scripted_set, tmp_path):
    async with live_set(scripted_set(), tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await live.bar(1)
        first = (await client.post("/ask", json={"question": "what key are we in?", "conversation": "c1"})).json()
        second = (await client.post("/ask", json={"question": "make it darker", "conversation": "c1"})).json()
        before = len(live.of(ev.Steer))
        sent = await client.post("/ask", json={"question": "yes", "conversation": "c1", "confirm": True})
        again = await client.post("/ask", json={"question": "yes", "conversation": "c1", "confirm": True})
    assert first["context"]["key"] == set_theory(7).key == "A minor" and first["answer"] == "We are in A minor."
    assert first["context"]["phase"] and "kick" in first["context"]["layers"] and first["proposed"] is None
    assert second["proposed"] == second["suggestion"] == "darker" and "Nothing is changed" in second["answer"]
    assert before == 0  # proposed, never applied until confirmed
    assert sent.status_code == 202 and sent.json()["answer"].startswith("sent 'darker': steer 'darker'")
    assert [s.text for s in live.of(ev.Steer)] == ["darker"] and sent.json()["seq"] == live.of(ev.Steer)[0].seq
    assert again.status_code == 409  # confirmed once: nothing left to confirm
    assert not [e for e in live.of(ev.LMRequest) if e.purpose == "ask"]  # facts and commands need no LM


async def test_a_set_steered_over_http_replays_exactly(scripted_set, tmp_path):
    scenario = scripted_set(bars=40, conductor={"phrase_bars": 8})
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await live.bar(1)
        for command in ("swap critic none", "provider reset scripted", "darker"):
            assert (await client.post("/control", json={"command": command})).status_code == 202
        assert (await client.post("/clip", json={"prompt": "2-bar acid bassline"})).status_code == 201
        await live.bar(10)
        assert (await client.post("/control", json={"command": "stop now"})).status_code == 202
        with trio.fail_after(30):
            await live.ended.wait()
    assert live.result is not None and live.result.summary.end == "stopped"
    _, events, problem = read_all(live.log_path)
    assert problem is None
    assert [type(e) for e in events if isinstance(e, ev.Control | ev.Steer | ev.ProviderControl | ev.ClipAdded)] == [
        ev.Control,
        ev.ProviderControl,
        ev.Steer,
        ev.ClipAdded,
        ev.Control,
    ]
    assert main(["replay", str(live.log_path), "--verify"]) == 0
    again = tmp_path / "again.wav"
    assert main(["replay", str(live.log_path), "--wav", str(again)]) == 0
    run, _ = sf.read(live.wav_path, dtype="int16")
    replayed, _ = sf.read(again, dtype="int16")
    assert run.shape == replayed.shape and np.array_equal(run, replayed)


@pytest.mark.llm
@pytest.mark.timeout(900)
def test_clip_on_the_command_line_lets_the_embedded_lm_choose_and_writes_a_midi_file(tmp_path):
    import subprocess
    import sys

    import mido

    out = tmp_path / "acid.mid"
    patient = tmp_path / "patient.toml"  # the default scenario's LM, with a deadline for a loaded machine
    patient.write_text('[router]\nproviders = [{ name = "local", kind = "local", timeout_s = 300.0 }]\n')
    argv = ["clip", "4-bar bassline in A minor", "--midi", str(out), "--scenario", str(patient)]
    done = subprocess.run(
        [sys.executable, "-m", "bergain_actors.cli", *argv],
        capture_output=True,
        text=True,
        timeout=600,  # the model's boot (its own budget, up to 180 s) and an answer (up to 300 s)
    )
    assert done.returncode == 0, done.stderr
    song = mido.MidiFile(str(out))
    pitches = [m.note for track in song.tracks for m in track if m.type == "note_on" and m.velocity > 0]
    low, high = CLIP_RANGES["bass"]
    assert pitches and all(low <= p <= high and p % 12 in A_MINOR for p in pitches)
    assert "4-bar bass clip in A minor" in done.stdout and f"wrote {out}" in done.stdout
    assert "chosen by local, scored" in done.stdout  # no style words: the embedded model's probabilities chose


@pytest.mark.llm
@pytest.mark.timeout(900)
async def test_ask_during_a_set_answers_on_the_embedded_lm_from_the_sets_context(scenario_factory, tmp_path):
    # live, the model runs niced: on a loaded machine its boot takes minutes and an answer over a minute
    local = {"providers": [{"name": "local", "kind": "local", "max_tokens": 400, "timeout_s": 300.0}]}
    scenario = scenario_factory(bpm=240, bars=900, router=local)  # cancelled once answered: it only has to outlast
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=320) as client:
        with trio.fail_after(300):  # a live set does not wait for the LM's boot: the API would say 503 "starting"
            while not live.of(ev.LocalServerChanged):
                await live.bar(live.latest() + 1)
        assert live.of(ev.LocalServerChanged)[0].status == "started"
        asked = await client.post("/ask", json={"question": "so, anything to report?"})
    assert asked.status_code == 200, asked.text
    body = asked.json()  # code cannot sort the question: the LM chooses its topic, the state answers it
    assert body["provider"] == "local" and body["how"] == "the LM chose the topic" and len(body["topics"]) == 1
    request = next(e for e in live.of(ev.LMRequest) if e.purpose == "ask")
    assert request.score and "anything to report" in request.messages[1]["content"]
    response = next(e for e in live.of(ev.LMResponse) if e.request_id == request.request_id)
    assert response.seq == body["seq"] and response.scores


async def test_failed_api_requests_never_open_the_sets_circuit(scenario_factory, tmp_path):
    phrase_only = {
        "providers": [
            {"name": "scripted", "kind": "scripted", "script": str(ROOT / "scenarios" / "phrase_answers.json")}
        ]
    }
    scenario = scenario_factory(bpm=240, bars=96, router=phrase_only, conductor={"kind": "phrase"})
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await live.bar(1)
        answers = [await client.post("/ask", json={"question": f"question {n}"}) for n in range(4)]
        await live.bar(live.latest() + 2)
    assert [a.status_code for a in answers] == [200] * 4  # the script has no answer: code says what it can tell
    failed = [e for e in live.of(ev.LMFailed) if e.request_id.startswith("http:ask")]
    assert len(failed) == 4 and all("no scripted answers for purpose 'ask'" in " ".join(e.attempts) for e in failed)
    assert not [e for e in live.of(ev.ProviderStateChanged) if e.new == "open"]
    assert all(e.best_effort for e in live.of(ev.LMRequest) if e.purpose == "ask")
