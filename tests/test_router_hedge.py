"""What the router does with time and with answers it cannot use, against real fault servers on loopback in
virtual time (``autojump_clock``: the servers' delays are trio sleeps, so a "loaded" provider is exact).

An unusable answer is its provider's failure and the next provider is asked within the same deadline; a hanging
first provider cannot eat the time a slow fallback needs (the fallback is asked too, early enough, and the first
good answer is the one logged)."""

from __future__ import annotations

import json

import pytest
import trio
from router_harness import provider, running

from bergain_actors.actors.router.actor import MAX_ANSWER_CHARS
from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.core import events as ev

MOVE = {
    "type": "object",
    "properties": {"move": {"type": "integer", "enum": [1, 2, 3]}, "energy": {"enum": ["up", "hold", "down"]}},
    "required": ["move", "energy"],
}
GOOD = '{"move": 2, "energy": "hold"}'


@pytest.fixture
async def servers(nursery: trio.Nursery) -> tuple[FaultServer, FaultServer]:
    return await nursery.start(FaultServer(GOOD).run), await nursery.start(FaultServer(GOOD).run)


def two(a: FaultServer, b: FaultServer, **router: object) -> dict[str, object]:
    return {"providers": [provider("a", a.url), provider("b", b.url)], "probe_at_start": False, **router}


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ('{"move": 1e+308, "energy": "up"}', "unusable: move: 1e+308 is not one of [1, 2, 3]"),
        ('{"move": 1, "energy": "up", "pad": "' + "x" * (MAX_ANSWER_CHARS + 10) + '"}', "over the 262144 cap"),
        ('{"move": 1, "energy": NaN}', "malformed: answer is not JSON"),
        ('{"move": 1, "energy": 1e999}', "unusable: answer holds a number too large"),
        ("[1, 2]", "unusable: the answer: [1, 2] is not of type 'object'"),
    ],
)
async def test_an_unusable_answer_is_a_failure_and_the_next_provider_answers(
    servers: tuple[FaultServer, FaultServer], autojump_clock, answer: str, why: str
) -> None:
    a, b = servers
    a.answer = answer
    async with running(two(a, b, failure_threshold=2)) as h:
        first = await h.ask(response_schema=MOVE, deadline_bar=4)
        second = await h.ask(response_schema=MOVE, deadline_bar=4)
        assert (await h.ask(response_schema=MOVE, deadline_bar=4)).attempts == ("a: circuit open",)
    assert isinstance(first, ev.LMResponse) and (first.provider, first.text) == ("b", GOOD)
    assert len(first.attempts) == 1 and first.attempts[0].startswith("a: ") and why in first.attempts[0]
    assert second.provider == "b" and h.transitions("a") == [("closed", "open")], "two unusable answers open it"
    assert h.of(ev.LMAnswerCapped) == []
    assert sum(len(json.dumps(e.attempts)) for e in h.of(ev.LMResponse)) < 1000, "the unusable answer is not kept"


async def test_free_text_over_the_cap_is_kept_once_with_an_event(
    servers: tuple[FaultServer, FaultServer], autojump_clock
) -> None:
    a, b = servers
    a.answer = "la " * MAX_ANSWER_CHARS
    async with running(two(a, b)) as h:
        answer = await h.ask(purpose="ask", best_effort=True)
    capped = h.of(ev.LMAnswerCapped)
    assert answer.provider == "a" and len(answer.text) == MAX_ANSWER_CHARS == capped[0].kept
    assert capped[0].chars == 3 * MAX_ANSWER_CHARS and b.posts == 0


async def test_a_hanging_first_provider_leaves_a_slow_fallback_the_time_it_needs(
    servers: tuple[FaultServer, FaultServer], autojump_clock
) -> None:
    """b answers in 2.5 s (a model on a loaded machine), the deadline is 4 s away. Cutting the hanging a at an even
    share (2 s) would leave b 2 s and lose every phrase; b is asked early enough for the time it took lately, and
    a, asked first, is still heard if it answers meanwhile."""
    a, b = servers
    b.mode, b.delay_s = "slow", 2.5
    async with running(two(a, b)) as h:  # 240 bpm: a bar is 1 s; bar 3 is due 3 s after the set starts
        learnt = await h.ask(model="b", response_schema=MOVE)  # b's pace: 2.5 s
        assert learnt.provider == "b"
        await a.set_mode("hang")
        start = h.of(ev.SetStarted)[0]
        h.bus.publish(ev.BarPlayed(bar=0, plan_seq=start.seq), source="streamer")  # bar 5: 4 s from now
        asked = trio.current_time()
        answer = await h.ask(response_schema=MOVE, deadline_bar=5)
        took = trio.current_time() - asked
    assert isinstance(answer, ev.LMResponse) and answer.provider == "b", answer
    assert took == pytest.approx(4.0 - 2.5 * 1.25 + 2.5), "b is asked 2.5 s x 1.25 before the deadline"
    assert answer.attempts == (f"a: timeout: slow call: no answer within {took:.2f} s, b answered first",)
    assert h.router.slots["a"].breaker.failures == 1 and h.router.slots["b"].breaker.failures == 0


async def test_the_first_good_answer_is_the_one_logged(
    servers: tuple[FaultServer, FaultServer], autojump_clock
) -> None:
    """Both answer: the slow first one after the hedge, the hedge faster. One ``LMResponse``, from whoever answered
    first; the other is cancelled and said so."""
    a, b = servers
    a.mode, a.delay_s = "slow", 3.0
    b.mode, b.delay_s, b.answer = "slow", 0.5, '{"move": 3, "energy": "up"}'
    async with running(two(a, b)) as h:  # bar 4 is due 4 s after the set starts: a's share is 2 s
        answer = await h.ask(response_schema=MOVE, deadline_bar=4)
        assert (answer.provider, answer.text) == ("b", '{"move": 3, "energy": "up"}')
        assert answer.attempts == ("a: timeout: slow call: no answer within 2.50 s, b answered first",)
        b.delay_s = 2.0  # now a (3 s) beats b (asked at 2 s, answering at 4 s... cut at the deadline)
        h.router.slots["a"].took.clear()
        h.router.slots["b"].took.clear()
        start = h.of(ev.SetStarted)[0]
        h.bus.publish(ev.BarPlayed(bar=0, plan_seq=start.seq), source="streamer")
        again = await h.ask(response_schema=MOVE, deadline_bar=5)
        assert again.provider == "a" and again.attempts == ("b: cancelled: a answered first",)
    responses = [e.request_id for e in h.of(ev.LMResponse)]
    assert len(responses) == len(set(responses)) == 2 and (a.posts, b.posts) == (2, 2)
    assert h.router.slots["b"].breaker.failures == 0, "a hedge that lost is no failure of its provider"


async def test_an_api_question_gives_the_half_open_probe_its_verdict(
    servers: tuple[FaultServer, FaultServer], autojump_clock
) -> None:
    a, b = servers
    await a.set_mode("error500")
    async with running(two(a, b, failure_threshold=1, cooldown_s=5.0)) as h:
        assert (await h.ask()).provider == "b"
        await trio.sleep(5.0)
        assert (await h.ask(purpose="ask", best_effort=True)).provider == "b"
        assert h.transitions("a") == [("closed", "open"), ("open", "half_open"), ("half_open", "open")]
        await trio.sleep(5.0)
        await a.set_mode("ok")
        assert (await h.ask(purpose="ask", best_effort=True)).provider == "a"
        assert h.transitions("a")[-2:] == [("open", "half_open"), ("half_open", "closed")]
        await a.set_mode("error500")
        for _ in range(3):  # closed: an API question's failures never take the set's LM away
            assert (await h.ask(purpose="ask", best_effort=True)).provider == "b"
        assert h.transitions("a")[-1] == ("half_open", "closed")
