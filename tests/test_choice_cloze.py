"""A cloze choice: the options' own words scored after the context, calibrated by the same after a premise with no
content (PMI). Pure parts with made-up scores; then the embedded LM through the router, where the words a performer
types must change which intent wins, and a provider that cannot score words is passed over."""

from __future__ import annotations

import json
import random

import pytest
import trio
from router_harness import provider, running

from bergain_actors import choice
from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.core import events as ev
from bergain_actors.music import reading

TEXTS = (" drop", " get darker", " build tension")


def made_up() -> choice.cloze.Cloze:
    return choice.cloze.cloze(
        ("drop", "darker", "tension"), TEXTS, system="S", context="C", question="Q?", answer="It should"
    )


def answer(after: list[float], premise: list[float]) -> ev.LMResponse:
    scores = (dict(zip(TEXTS, after, strict=True)), dict(zip(TEXTS, premise, strict=True)))
    return ev.LMResponse(request_id="r", provider="lm", text="", scores=scores)


def test_the_premise_divides_out_what_is_likely_anyway():
    # " drop" is the likeliest after the context only because it is likely after anything
    picked = choice.cloze.decide(made_up(), answer([-2.0, -3.0, -6.0], [-1.0, -5.0, -6.5]), 0.0, random.Random(0))
    assert picked.method == "cloze" and picked.option == "darker"
    assert max(range(3), key=lambda i: picked.raw[i]) == 0, "without the premise the common words win"
    assert picked.prior[0] > picked.prior[1] and abs(sum(picked.calibrated) - 1) < 1e-5


def test_the_prompts_end_in_the_answer_the_texts_continue_and_the_premise_has_no_content():
    context, premise = choice.cloze.prompts(made_up())
    assert context[-1] == {"role": "assistant", "content": "It should"} and premise[-1] == context[-1]
    assert "C" in context[1]["content"] and "C" not in premise[1]["content"]
    sent = choice.cloze.request(made_up(), request_id="r", purpose="test")
    assert sent.continuations == TEXTS and sent.variants == (premise,) and not sent.score


def test_an_answer_without_every_text_scored_chooses_nothing():
    partial = ev.LMResponse(request_id="r", provider="lm", text="", scores=({" drop": -1.0}, {" drop": -1.0}))
    assert choice.cloze.decide(made_up(), partial, 0.0, random.Random(0)).method == "none"
    with pytest.raises(ValueError, match="one text per option"):
        choice.cloze.cloze(("a", "b"), (" a",), system="", context="", question="", answer="")


@pytest.mark.parametrize("liked", ["darker", "faster"])
def test_a_reading_among_the_codes_candidates_follows_the_cloze_where_the_code_is_torn(liked: str):
    lex, kinds = reading.candidates("darker and faster")
    assert kinds == ("darker", "faster") and lex.intents[0].p == lex.intents[1].p
    scores = {reading.CLOZE[kind]: -2.0 for kind in kinds} | {reading.CLOZE[liked]: -1.0}
    said = ev.LMResponse("r", "lm", "", scores=(scores, {text: -2.0 for text in scores}))
    got = reading.combine(lex, kinds, choice.cloze.decide(reading.cloze("darker and faster", kinds), said, 0.0,
                                                        random.Random(0)))  # fmt: skip
    assert got.method == "lm" and got.top is not None and got.top.kind == liked


@pytest.mark.llm
@pytest.mark.timeout(1200)
async def test_the_embedded_lm_scores_every_intents_words_and_the_words_typed_decide() -> None:
    chosen = {}
    async with running({"providers": [{"name": "local", "kind": "local", "timeout_s": 600.0}]}, fast=True) as h:
        with trio.fail_after(1100):
            await h.wait_for(ev.LocalServerChanged, lambda e: e.status == "started")
            for n, typed in enumerate(("darker", "faster", "more energy")):
                c = reading.cloze(typed)
                h.bus.publish(choice.cloze.request(c, request_id=f"cloze:{n}", purpose="test"), source="conductor")
                got = await h.answer(f"cloze:{n}")
                assert isinstance(got, ev.LMResponse), got
                assert len(got.scores) == 2 and all(set(s) == set(c.texts) for s in got.scores)
                assert all(v < 0 for s in got.scores for v in s.values())
                assert got.scores[0] != got.scores[1], "the phrase changes the likelihoods"
                chosen[typed] = choice.cloze.decide(c, got, 0.0, random.Random(0)).option
    assert chosen == {"darker": "darker", "faster": "faster", "more energy": "energy_up"}


async def test_a_chat_completions_server_is_not_asked_to_score_words_and_the_next_provider_answers(
    tmp_path, nursery: trio.Nursery
) -> None:
    server = await nursery.start(FaultServer(answer="1").run)
    script = tmp_path / "cloze.json"
    after, premise = {" drop": -1.0, " get darker": -2.0, " build tension": -3.0}, {" get darker": -4.0}
    script.write_text(json.dumps([{"scores": [after, after | premise]}]))
    providers = [provider("plain", server.url), {"name": "canned", "kind": "scripted", "script": str(script)}]
    async with running({"providers": providers}) as h:
        h.bus.publish(choice.cloze.request(made_up(), request_id="c", purpose="test"), source="conductor")
        got = await h.answer("c")
    assert isinstance(got, ev.LMResponse) and got.provider == "canned", got
    assert server.bodies == [], "no call: chat completions cannot score given words"
    assert any(a.startswith("plain") and "continuations" in a for a in got.attempts), got.attempts
    assert choice.cloze.decide(made_up(), got, 0.0, random.Random(0)).option == "darker"
