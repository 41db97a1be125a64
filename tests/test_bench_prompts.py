"""The prompts of the benches' in-context and noisy-channel ways (issue 18.3, 18.4, rule 9): no held-out case in any
prompt prefix or lead-in, the same examples for every case, balanced over the intents, and the channel's
distribution read from the words' likelihood after each lead-in."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_decisions as decisions
import intent_channel as channel
from decision_situations import SITUATIONS
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


def test_decision_prefix_shows_only_tuning_situations() -> None:
    shown = decisions.examples()
    assert len({s.index for s, _ in shown}) == decisions.SHOTS
    assert all(not s.held_out and o.label in s.accepted for s, o in shown)
    held = [s for s in SITUATIONS if s.held_out]
    for moves in (False, True):
        system = decisions.in_context(held[0], held[0].brief, decisions.shown(held[0]), moves).system
        assert system == decisions.in_context(SITUATIONS[0], "x", decisions.shown(SITUATIONS[0]), moves).system
        for h in held:
            assert decisions.ballot(h, h.brief, decisions.shown(h)).context not in system


def test_decision_channel_scores_the_moment_after_each_move() -> None:
    s = SITUATIONS[2]
    options = decisions.shown(s)
    sent = decisions.channel(s, s.brief, options)
    lists = (sent.messages, *sent.variants)
    assert len(lists) == len(options)
    assert [m[1]["content"].count(o.label) > 0 for m, o in zip(lists, options, strict=True)] == [True] * len(options)
    assert sent.continuations == (" " + decisions.ballot(s, s.brief, options).context,)
