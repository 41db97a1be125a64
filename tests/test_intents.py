"""Words → intents (issue 18.2): the vocabulary read from words in three languages, every steer and the brief
logged as ``IntentsRead``, the autopilot acting on each intent, and the LM's calibrated choice read back in the
set and in replay."""

from __future__ import annotations

import json
import math
import random

import pytest

from bergain_actors import choice
from bergain_actors.cli import main
from bergain_actors.control import commands
from bergain_actors.core import events as ev
from bergain_actors.music import reading
from bergain_actors.music.intents import KINDS, keywords, label, lexical
from bergain_actors.service.chat import command_for
from tests.test_control import play, verified


@pytest.mark.parametrize(
    ("words", "want"),
    [
        ("darker please", "darker"),
        ("too bright", "darker"),
        ("fill it up, more layers", "denser"),
        ("too busy", "sparser"),
        ("less energy", "energy_down"),
        ("mehr Energie", "energy_up"),
        ("build the tension", "tension"),
        ("release it now", "drop"),
        ("give me a breakdown", "breakdown"),
        ("hypnotisch und repetitiv", "hypnotic"),
        ("algo distinto, cambia", "vary"),
        ("clap back in", "bring_in:clap"),
        ("quita el bombo", "mute:kick"),
        ("tempo hoch", "faster"),
        ("más lento", "slower"),
        ("slwoer", "slower"),
    ],
)
def test_words_read_as_intents_of_the_vocabulary(words, want):
    reading = lexical(words)
    assert reading.top is not None and label(reading.top.kind, reading.top.role) == want
    assert abs(sum(i.p for i in reading.intents) - 1) < 1e-3


@pytest.mark.parametrize(
    "words",
    ["hello", "see you later", "I think so", "thanks, that was quite a show", "what a stage", "since when",
     "save the kick", "bring it on"],
)  # fmt: skip
def test_everyday_words_are_not_taken_for_misspelt_cues(words):
    """Before, "hello" read as brighter ("hell"), "see you later" as energy up ("lauter"), "bring it on" as darker
    and vary ("brooding", "boring"): typed into a set, a greeting changed the music."""
    assert lexical(words).intents == ()


@pytest.mark.parametrize(
    ("liked", "strength", "want"),
    [("tension", 1.0, []), ("tension", 5.0, []), ("tension", 40.0, ["tension"]), ("nothing", 40.0, [])],
)
def test_words_code_finds_nothing_in_take_the_lms_pick_only_when_it_is_sure(liked, strength, want):
    """Over the whole vocabulary the LM may choose "nothing", and its pick stands only at ``SURE``: the embedded
    model gave "more tension" about 0.27 for "thanks" and "asdfgh" alike, and a typed "thanks" raised the tension."""
    lex, kinds = reading.candidates("thanks")
    b = reading.ballot("thanks", kinds, random.Random(0))
    assert kinds == KINDS and b.options[-1] == reading.NOTHING and reading.options(kinds)[-1] == "nothing"
    index = reading.options(kinds).index(liked)
    scores = [{label: math.log(strength if order[i] == index else 1.0) for i, label in enumerate(b.labels)}
              for order in b.orders]  # fmt: skip
    scores.append(dict.fromkeys(b.labels, 0.0))  # the content-free prompt: no bias
    answer = ev.LMResponse(request_id="r", provider="p", text="", scores=tuple(scores))
    picked = choice.decide(b, answer, 0.0, random.Random(0))
    assert picked.option == b.options[index] or strength == 1.0
    assert [i.kind for i in reading.combine(lex, kinds, picked).intents[:1]] == want  # the likeliest, or none


def test_a_vocabulary_word_is_not_a_misspelling_of_another_cue():
    assert [(i.kind, i.role, i.p) for i in lexical("bring the bass in").intents] == [("bring_in", "bassline", 1.0)]
    assert [(i.kind, i.role) for i in lexical("brign the bass in").intents] == [("bring_in", "bassline")]
    assert [(i.kind, i.role) for i in lexical("these hats out").intents] == [("mute", "hihat")]


def test_every_intent_has_a_command_a_set_reads_back_as_that_intent():
    for kind in KINDS:
        role = "hihat" if kind in ("bring_in", "mute") else ""
        reading = lexical(f"{role} in" if kind == "bring_in" else f"{role} out" if kind == "mute" else kind)
        line = command_for(reading)
        assert line is not None, kind
        parsed = commands.parse(line)
        assert isinstance(parsed, ev.Steer), line
        if parsed.intent == "say":
            top = lexical(line).top
            assert top is not None and (top.kind, top.role) == (kind, role), line
    assert keywords("more tension").top.kind == "energy_up"  # the old rule: the baseline the benchmark beats


@pytest.mark.timeout(900)
async def test_each_steer_is_read_logged_and_acted_on_by_the_autopilot(scenario_factory, tmp_path, autojump_clock):
    lines = [(5, "faster"), (9, "more hypnotic"), (13, "sparser"), (17, "más tensión"), (21, "hats out")]
    result = await play(scenario_factory(bars=48), tmp_path, lines)
    read = [e for e in result.events if isinstance(e, ev.IntentsRead)]
    assert read[0].origin == "brief" and read[0].intents
    steers = [e for e in read if e.origin == "steer"]
    assert [label(e.intents[0].kind, e.intents[0].role) for e in steers] == [
        "faster", "hypnotic", "sparser", "tension", "mute:hihat"
    ]  # fmt: skip
    assert all(e.method == "lexical" and not e.fallback for e in steers)  # no LM in an autopilot set
    acted = {e.intent: e for e in result.events if isinstance(e, ev.SteerActed)}
    assert list(acted) == ["faster", "hypnotic", "sparser", "tension", "mute"]
    assert acted["faster"].action.startswith("ok: tempo glides from 128 to 132")
    assert "variation -" in acted["hypnotic"].action and "layers -1" in acted["sparser"].action
    plans = {e.plan.bar: e.plan for e in result.events if isinstance(e, ev.BarPlanned)}
    assert plans[acted["faster"].bar + 2].bpm == 132
    assert all(read.seq < acted.seq for read, acted in zip(steers, acted.values(), strict=True))
    verified(result)


def scripted_scores(path, first: int) -> str:
    """A script whose intent answers prefer option ``first`` in the order shown and its mirror in the reversed
    order (the same option), with a flat content-free prompt."""
    mirrored = {"1": "2", "2": "1"}[str(first)]
    answer = {"scores": [{str(first): -0.1, mirrored: -2.5}, {mirrored: -0.1, str(first): -2.5}, {"1": -1, "2": -1}]}
    path.write_text(json.dumps({"intent": [answer] * 8}))
    return str(path)


@pytest.mark.parametrize(("first", "brightness"), [(1, "darker"), (2, "hypnotic")])
async def test_the_lm_reads_the_brief_as_a_calibrated_choice_and_replay_reads_it_again(
    scenario_factory, tmp_path, autojump_clock, first, brightness
):
    script = scripted_scores(tmp_path / "intents.json", first)
    scenario = scenario_factory(
        bars=32,
        conductor={"brief": "dark hypnotic warehouse", "words": "lm"},
        router={"providers": [{"name": "scripted", "kind": "scripted", "script": script}]},
    )
    result = await play(scenario, tmp_path, [(5, "moody and repetitive")])
    read = [e for e in result.events if isinstance(e, ev.IntentsRead)]
    brief, steer = read
    assert brief.origin == "brief" and brief.method == "lm" and not brief.fallback
    assert brief.lm["options"] == ["darker", "hypnotic"] and brief.lm["method"] == "scored"
    assert brief.intents[0].kind == brightness  # the LM's choice decides, not the order the code proposed
    assert steer.method == "lm" and steer.intents[0].kind == ("darker" if first == 1 else "hypnotic")
    lines = result.summary.lines()
    assert f"brief        {brightness} " in "\n".join(lines) and "(read by the LM)" in "\n".join(lines)
    assert "words        2 read as intents, 2 by the LM" in lines
    requests = [e for e in result.events if isinstance(e, ev.LMRequest) and e.purpose == "intent"]
    assert len(requests) == 2 and all("e.g." not in m["content"] for r in requests for m in r.messages)
    verified(result)


async def test_when_the_lm_cannot_read_the_code_does_and_says_so(scenario_factory, tmp_path, autojump_clock):
    script = tmp_path / "none.json"
    script.write_text(json.dumps({"phrase": ["{}"]}))  # nothing for purpose intent: the provider fails
    scenario = scenario_factory(
        bars=16,
        conductor={"brief": "dark hypnotic warehouse", "words": "lm"},
        router={"providers": [{"name": "scripted", "kind": "scripted", "script": str(script)}]},
    )
    result = await play(scenario, tmp_path, [])
    (brief,) = [e for e in result.events if isinstance(e, ev.IntentsRead)]
    assert brief.method == "lexical" and brief.fallback.startswith("the LM failed")
    said = "\n".join(result.summary.lines())
    assert "1 by code because the LM could not: 'dark hypnotic warehouse': the LM failed" in said
    assert [i.kind for i in brief.intents] == ["darker", "hypnotic"]
    verified(result)


def test_the_intent_command_prints_what_words_do_without_an_lm(capsys, tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('name = "x"\n[conductor]\nkind = "autopilot"\n')
    assert main(["intent", "mach es düsterer", "--json", "--scenario", str(scenario)]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [i["kind"] for i in found["intents"]] == ["darker"] and found["command"] == "darker"
    assert main(["intent", "bass raus", "--scenario", str(scenario)]) == 0
    out = capsys.readouterr().out
    assert "mute:bassline" in out and "'bassline out'" in out
    assert main(["intent", "make it darker and busier", "--scenario", str(scenario)]) == 0  # two: the LM is asked
    out = capsys.readouterr().out
    assert out.count("read by code alone") == 1 and "the LM failed: no provider configured" in out, out
    assert main(["intent", "   ", "--scenario", str(scenario)]) == 2
