"""A choice through the router: the embedded LM gives every label's log-probability for every prompt of the
ballot; an OpenAI-compatible server that gives none is probed once, said once, and its label taken as it is."""

from __future__ import annotations

import random

import pytest
import structlog
import trio
from router_harness import provider, running

from bergain_actors import choice
from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.core import events as ev

OPTIONS = ("add the bassline", "take the clap out", "hats play sixteenths", "open the filter", "add a synth stab")


def ballot() -> choice.Ballot:
    return choice.ballot(
        OPTIONS,
        system="You are the DJ of a live techno set.",
        context="Peak of the set; energy 0.55, target 0.80. Playing: kick, hats.",
        question="Which move comes next?",
        rng=random.Random(5),
    )


@pytest.mark.llm
@pytest.mark.timeout(900)
async def test_the_embedded_lm_scores_every_label_of_every_prompt() -> None:
    b = ballot()
    async with running({"providers": [{"name": "local", "kind": "local", "timeout_s": 300.0}]}, fast=True) as h:
        with trio.fail_after(600):
            await h.wait_for(ev.LocalServerChanged, lambda e: e.status == "started")
            sent = choice.request(b, request_id="choice:1", purpose="test")
            h.bus.publish(sent, source="conductor")
            answer = await h.answer("choice:1")
    assert isinstance(answer, ev.LMResponse), answer
    assert len(answer.scores) == 3 and all(set(s) == set(b.labels) for s in answer.scores)
    assert answer.text in b.labels  # the first prompt's own answer, constrained to a label
    picked = choice.decide(b, answer, 0.0, random.Random(0))
    assert picked.method == "scored" and picked.option == OPTIONS[picked.index]
    assert picked.raw != picked.calibrated and len(picked.prior) == len(OPTIONS)


async def test_a_server_without_probabilities_is_probed_once_and_its_label_kept(nursery: trio.Nursery) -> None:
    server = await nursery.start(FaultServer(answer="3").run)
    b = ballot()
    with structlog.testing.capture_logs() as logs:
        async with running({"providers": [provider("plain", server.url)]}) as h:
            answers = []
            for n in range(2):
                h.bus.publish(choice.request(b, request_id=f"choice:{n}", purpose="test"), source="conductor")
                answers.append(await h.answer(f"choice:{n}"))
    assert all(isinstance(a, ev.LMResponse) and a.scores == () and a.text == "3" for a in answers)
    bodies = server.bodies
    assert len(bodies) == 2, "after the probe only the first prompt is asked"
    assert bodies[0]["logprobs"] is True and "logprobs" not in bodies[1] and "grammar" not in bodies[0]
    picked = choice.decide(b, answers[0], 0.5, random.Random(0))
    assert (picked.method, picked.index) == ("constrained", 2)
    said = [entry for entry in logs if "no probabilities" in entry["event"]]
    assert len(said) == 1 and said[0]["log_level"] == "warning" and said[0]["provider"] == "plain"
