"""Grounded ``ask`` (issue 18.8): 30 questions in and out of a set, every fact in every answer checked against the
set's log (what bar played, at which tempo, in which phase, with which layers), never a claimed action, and every
instruction a proposed command that ``control.parse`` accepts and that nothing applies until it is confirmed."""

from __future__ import annotations

import re
import socket

import httpx
import trio

from bergain_actors.cli import main
from bergain_actors.control import commands
from bergain_actors.core import events as ev
from bergain_actors.music.theory import set_theory
from bergain_actors.service.app import Api
from bergain_actors.service.http import listen, serve_app
from bergain_actors.service.session import router_session
from tests.service_harness import SCRIPTED, live_set

QUESTIONS = (
    "what key are we in?",
    "which scale is this in?",
    "what's the tempo?",
    "how many bpm?",
    "which bar are we at?",
    "where are we in the set?",
    "what phase is this?",
    "how much time is left?",
    "how long until the end?",
    "what's playing?",
    "which layers are in?",
    "why did that change?",
    "what was the last decision?",
    "which providers are there?",
    "is ableton connected?",
    "what's the energy?",
    "welche Tonart?",
    "¿qué tempo?",
)
INSTRUCTIONS = {
    "make it darker": "darker",
    "more tension please": "more tension",
    "can you bring the bass in": "bassline in",
    "tempo 250": "tempo 250",
    "hats out": "hihat out",
    "a bit faster": "tempo +4",
}
OUT_OF_A_SET = ("what key are we in?", "what's the tempo?", "which providers are there?", "what's playing?")
KEYS = re.compile(r"\b([A-G](?:#|b)? (?:major|minor))\b")
CLAIMS = re.compile(r"\b(I(?:'ll| will| have|'ve| am|'m) |done\b|applied\b|changed it\b|dropping\b)", re.I)


def played(events: list[ev.Event]) -> dict[int, object]:
    plans = {e.seq: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    return {e.bar: plans[e.plan_seq] for e in events if isinstance(e, ev.BarPlayed)}


def check(answer: dict, events: list[ev.Event], glide_to: float | None = None) -> None:
    """Every fact the answer states agrees with the log at the bar it says is playing."""
    text, facts = answer["answer"], answer["context"]
    assert not CLAIMS.search(text), text
    assert set(KEYS.findall(text)) <= {set_theory(7).key}, text
    if not facts.get("playing"):
        assert not KEYS.findall(text) and "BPM" not in text and "Bar " not in text, text
        return
    bar = facts["bar"] - 1
    plan = played(events)[bar]  # the bar the answer is about was played, and is the one the log holds
    for bpm in re.findall(r"(\d+(?:\.\d+)?) BPM", text):
        assert float(bpm) in (plan.bpm, glide_to), text
    if "tempo playing now" in text:
        assert f"{plan.bpm:g} BPM" in text, text
    for said_bar, of in re.findall(r"Bar (\d+) of (\d+)", text):
        assert int(said_bar) == bar + 1 and int(of) == 96, text
    if text.startswith("We are in the "):
        assert text == f"We are in the {plan.phase}.", text
    if text.startswith("Playing: "):
        sounding = {layer.role for layer in plan.layers if layer.gain > 0 and layer.role != "bed"}
        assert set(text.removeprefix("Playing: ").rstrip(".").split(", ")) == sounding, text
    left = re.search(r"(\d+) min (\d+) s left", text)
    if left:
        seconds = int(left[1]) * 60 + int(left[2])
        assert abs(seconds - (96 - bar - 1) * 4 * 60 / plan.bpm) <= 1, text
    energy = re.search(r"Energy (\d\.\d\d) against a target of (\d\.\d\d)", text)
    if energy:
        assert abs(float(energy[1]) - plan.energy) < 0.006 and abs(float(energy[2]) - plan.target) < 0.006, text
    last = re.search(r"Last change, bar (\d+)", text)
    if last:
        moves = [e for e in events if isinstance(e, ev.MixerMove) and e.bar == int(last[1]) - 1]
        assert moves, text


async def test_thirty_questions_every_fact_checked_against_the_log(scenario_factory, tmp_path):
    scenario = scenario_factory(bpm=240, bars=96, router=SCRIPTED)
    answers: list[tuple[dict, list[ev.Event], float | None]] = []
    async with live_set(scenario, tmp_path) as live, httpx.AsyncClient(base_url=live.url, timeout=60) as client:
        await live.bar(1)

        async def ask(question: str) -> dict:
            reply = await client.post("/ask", json={"question": question, "conversation": "t"})
            assert reply.status_code == 200, reply.text
            return reply.json()

        for question in QUESTIONS:
            answers.append((await ask(question), list(live.events), None))
        for question, command in INSTRUCTIONS.items():
            got = await ask(question)
            assert got["proposed"] == command, (question, got)
            parsed = commands.parse(got["proposed"])
            assert isinstance(parsed, ev.Steer) and not isinstance(parsed, ev.CommandRejected | commands.Help)
            answers.append((got, list(live.events), None))
        assert not live.of(ev.Steer)  # nothing proposed was applied
        assert (await client.post("/control", json={"command": "tempo 270"})).status_code == 202
        with trio.fail_after(120):
            while not any(240 < p.bpm < 270 for p in played(live.events).values()):
                await live.bar(live.latest() + 1)
        for _ in range(2):  # mid-glide: the tempo of the bar playing, and where it glides to
            got = await ask("what's the tempo?")
            assert "gliding to 270 BPM" in got["answer"] and 240 < got["context"]["tempo_bpm"] < 270
            answers.append((got, list(live.events), 270.0))
    async with router_session(scenario) as session, trio.open_nursery() as nursery:
        port = await nursery.start(serve_app, Api(session).app, listen("127.0.0.1", 0))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for question in OUT_OF_A_SET:
                reply = await client.post("/ask", json={"question": question})
                assert reply.status_code == 200
                answers.append((reply.json(), [], None))
            blank = await client.post("/ask", json={"question": "   "})  # before: 200, the LM guessed a topic
        nursery.cancel_scope.cancel()
    empty = "question: empty; ask about the set, e.g. 'what key are we in?'"
    assert (blank.status_code, blank.json()) == (422, {"error": empty, "field": "question"})
    assert len(answers) == 30
    for answer, events, glide in answers:
        check(answer, events, glide)
    by_question = {a["answer"] for a, _, _ in answers[:2]}
    assert by_question == {"We are in A minor."}
    assert answers[-2][0]["answer"] == "LM providers: scripted (closed)."
    assert answers[-4][0]["answer"] == answers[-1][0]["answer"] == "No set is playing."


def test_the_command_line_refuses_an_empty_question_and_a_set_that_does_not_answer(capsys):
    """``ask --url URL`` asks that set: when it does not answer, exit 2 saying so, not an answer about no set."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    assert main(["ask", "what key are we in?", "--url", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"bergain-actors: ask: no set answers at {url} (")
    assert len(captured.err.strip().splitlines()) == 1
    for empty in ("", "   "):
        assert main(["ask", empty, "--url", url]) == 2
        assert capsys.readouterr().err.strip() == "bergain-actors: ask: no question given"
