"""The prompts of bench_intents' in-context and noisy-channel ways (issue 18.3, rule 9): no held-out phrase in any
prompt prefix or lead-in, the same examples for every phrase, balanced over the intents, and the channel's
distribution read from the phrase's likelihood after each lead-in."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import intent_channel as channel
from intent_phrases import PHRASES, held_out

from bergain_actors.music.intents import KINDS

HELD_OUT = [p[0] for i, p in enumerate(PHRASES) if held_out(i)]


def prefixes(text: str) -> list[str]:
    """Every part of the prompts for ``text`` that is not ``text`` itself: the in-context system prompt and every
    channel lead-in (with cues and examples, and the role lead-ins)."""
    shown = [channel.icl_cloze(text).system]
    for cues in (False, True):
        for shots in (0, channel.CHANNEL_SHOTS):
            request = channel.channel_request(text, [channel.lead_in(k, cues, shots) for k in KINDS], "x")
            shown += [m["content"] for messages in (request.messages, *request.variants) for m in messages]
    shown += [channel.role_lead_in(kind, role) for kind in ("bring_in", "mute") for role in channel.ROLES]
    return shown


@pytest.mark.parametrize("text", [PHRASES[0][0], HELD_OUT[0], HELD_OUT[-1]])
def test_no_held_out_phrase_is_shown(text: str) -> None:
    for part in prefixes(text):
        for phrase in HELD_OUT:
            assert f'"{phrase}"' not in part, (phrase, part[:80])
            assert f"Typed: {phrase}\n" not in part, (phrase, part[:80])


def test_examples_are_tuning_phrases_balanced_and_fixed() -> None:
    for per in (channel.ICL_SHOTS, channel.CHANNEL_SHOTS):
        chosen = channel.tuning_examples(per)
        assert chosen == channel.tuning_examples(per)
        assert set(chosen) == set(KINDS)
        labels = {p[0]: p[1][0].split(":")[0] for i, p in enumerate(PHRASES) if not held_out(i)}
        for kind, texts in chosen.items():
            assert len(set(texts)) == per
            assert all(labels[t] == kind for t in texts)
    assert channel.icl_cloze("darker").system == channel.icl_cloze("schneller").system


def test_channel_prefers_the_lead_in_that_explains_the_words() -> None:
    text = "make it darker"
    scores = [{f" {text}": -9.0}, {f" {text}": -4.0}, {f" {text}": -6.0}, {f" {text}": -7.0}]
    probs = channel.channel_distribution(text, scores)
    assert len(probs) == 3
    assert math.isclose(sum(probs), 1.0)
    assert max(range(3), key=lambda i: probs[i]) == 1
    assert math.isclose(probs[1] / probs[2], math.exp(2.0))
