"""Choosing among options by the LM's probabilities: position bias divided out, orders averaged, a seeded pick,
and the constrained answer of a provider that gives no probabilities."""

from __future__ import annotations

import math
import random

import pytest

from bergain_actors import choice
from bergain_actors.core import events as ev

OPTIONS = ("add bassline", "take clap out", "hats play sixteenths", "add synth")


def make(orders: int = 2, calibrate: bool = True) -> choice.Ballot:
    return choice.ballot(
        OPTIONS,
        system="You pick the next move of a techno set.",
        context="Peak; energy 0.55, target 0.80.",
        question="Which move?",
        rng=random.Random(3),
        orders=orders,
        calibrate=calibrate,
    )


def logs(probs: dict[str, float]) -> dict[str, float]:
    return {label: math.log(p) for label, p in probs.items()}


def answer(*scores: dict[str, float], text: str = "") -> ev.LMResponse:
    return ev.LMResponse(request_id="r", provider="p", text=text, scores=tuple(scores))


def biased(b: choice.Ballot, liked: int, bias: dict[str, float]) -> list[dict[str, float]]:
    """A model that prefers label "1" whatever it is shown, and a little the option ``liked`` wherever it is."""
    out = []
    for order in b.orders:
        probs = {label: bias[label] * (3.0 if order[i] == liked else 1.0) for i, label in enumerate(b.labels)}
        out.append(logs(probs))
    out.append(logs(bias))  # the content-free prompt: the bias alone
    return out


BIAS = {"1": 0.7, "2": 0.1, "3": 0.1, "4": 0.1}


def test_prompts_show_every_order_then_a_content_free_one_and_no_example_answer():
    b = make()
    prompts = choice.prompts(b)
    assert len(prompts) == 3 and b.orders[1] == (3, 2, 1, 0)
    first, reverse, blank = (p[1]["content"] for p in prompts)
    assert first.index("1. add bassline") < first.index("4. add synth")
    assert "1. add synth" in reverse and "4. add bassline" in reverse
    assert all(o not in blank for o in OPTIONS) and "Peak" not in blank and "N/A" in blank
    assert "{" not in first and '"move"' not in prompts[0][0]["content"]  # nothing to copy
    request = choice.request(b, request_id="x", purpose="test", deadline_bar=9)
    assert request.score == ("1", "2", "3", "4") and request.messages == prompts[0]
    assert request.variants == prompts[1:] and request.max_tokens == 1


@pytest.mark.parametrize("liked", range(4))
def test_the_liked_option_wins_wherever_the_bias_points(liked: int):
    b = make()
    got = choice.decide(b, answer(*biased(b, liked, BIAS)), 0.0, random.Random(0))
    assert got.method == "scored" and got.index == liked and got.option == OPTIONS[liked]
    assert got.calibrated[liked] == max(got.calibrated)
    assert math.isclose(sum(got.raw), 1.0, abs_tol=1e-5) and math.isclose(sum(got.calibrated), 1.0, abs_tol=1e-5)


def test_without_calibration_or_other_orders_the_bias_decides():
    b = make(orders=1, calibrate=False)
    got = choice.decide(b, answer(*biased(b, 2, BIAS)[:1]), 0.0, random.Random(0))
    assert got.index == 0 and got.prior == ()  # label "1" (0.7) beats the liked option (0.1 x 3)


def test_a_model_that_only_has_a_bias_leaves_the_options_even():
    b = make()
    flat = [logs(BIAS)] * 3
    got = choice.decide(b, answer(*flat), 0.0, random.Random(0))
    assert max(got.calibrated) - min(got.calibrated) < 1e-6
    assert got.raw[0] > got.raw[1]  # averaged over two orders the raw stays uneven: first and last get the "1"


def test_an_unlisted_label_gets_less_than_the_least_listed():
    b = make(orders=1, calibrate=False)
    got = choice.decide(b, answer({"1": -1.0, "2": -2.0, "3": -3.0}), 0.0, random.Random(0))
    assert got.raw[3] < got.raw[2] < got.raw[1] < got.raw[0]


def test_a_pick_at_temperature_follows_the_seed_and_the_distribution():
    b = make()
    scores = biased(b, 1, BIAS)
    first = [choice.decide(b, answer(*scores), 1.0, random.Random(seed)) for seed in range(200)]
    again = [choice.decide(b, answer(*scores), 1.0, random.Random(seed)) for seed in range(200)]
    assert first == again
    share = sum(c.index == 1 for c in first) / len(first)
    assert abs(share - first[0].calibrated[1]) < 0.12 and 0 < first[0].draw < 1
    assert len({c.index for c in first}) > 1
    sharp = [choice.decide(b, answer(*scores), 0.05, random.Random(seed)).index for seed in range(50)]
    assert sharp == [1] * 50


def test_a_provider_without_probabilities_gives_its_constrained_label():
    b = make()
    got = choice.decide(b, answer(text="3"), 0.7, random.Random(0))
    assert (got.method, got.index, got.option, got.calibrated) == ("constrained", 2, OPTIONS[2], ())
    assert choice.decide(b, answer(text="Option 4."), 0.0, random.Random(0)).index == 3
    nothing = choice.decide(b, answer(text="I would add a synth"), 0.0, random.Random(0))
    assert (nothing.method, nothing.index) == ("none", -1)


def test_long_menus_take_letters_and_too_long_ones_are_refused():
    many = [f"intent {i}" for i in range(15)]
    b = choice.ballot(many, system="s", context="c", question="q", rng=random.Random(0), orders=3)
    assert b.labels[0] == "A" and b.labels[-1] == "O" and len(b.orders) == 3
    assert sorted(b.orders[2]) == list(range(15))
    assert "Answer with the letter" in choice.prompts(b)[0][1]["content"]
    with pytest.raises(ValueError, match="at most 26"):
        choice.ballot([str(i) for i in range(27)], system="s", context="c", question="q", rng=random.Random(0))


def test_a_prior_kept_from_an_earlier_ballot_calibrates_one_without_its_content_free_prompt():
    measured = make()
    scores = biased(measured, 2, BIAS)
    prior = choice.prior_of(measured, answer(*scores))
    assert len(prior) == 4 and prior[0] == max(prior)
    later = make(calibrate=False)
    assert len(choice.prompts(later)) == 2
    alone = choice.decide(later, answer(*scores[:2]), 0.0, random.Random(0))
    kept = choice.decide(later, answer(*scores[:2]), 0.0, random.Random(0), prior)
    assert kept == choice.decide(measured, answer(*scores), 0.0, random.Random(0))
    assert kept.index == 2 and kept.prior == prior and alone.prior == ()
    assert choice.prior_of(later, answer(*scores[:2])) == ()
