"""The router against real HTTP: our fault-injecting server on loopback. Timing is asserted only in virtual time
(``autojump_clock``: loopback I/O completes without waiting on a timer); tests on the real clock wait for events
and use short cooldowns as lower bounds only."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import trio
from router_harness import provider, running

from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.core import events as ev

SCHEMA = {"type": "object", "properties": {"energy": {"type": "number"}}, "required": ["energy"]}


@pytest.fixture
async def servers(nursery: trio.Nursery) -> tuple[FaultServer, FaultServer]:
    a = await nursery.start(FaultServer('{"energy": 0.1}').run)
    b = await nursery.start(FaultServer('{"energy": 0.9}').run)
    return a, b


def two(a: FaultServer, b: FaultServer, **router: object) -> dict[str, object]:
    return {"providers": [provider("a", a.url), provider("b", b.url)], "cooldown_s": 0.3, **router}


async def test_answer_carries_provider_latency_tokens_and_schema(servers: tuple[FaultServer, FaultServer]) -> None:
    a, b = servers
    async with running(two(a, b)) as h:
        answer = await h.ask(response_schema=SCHEMA, max_tokens=100)
        assert isinstance(answer, ev.LMResponse)
        assert (answer.provider, answer.text, answer.prompt_tokens, answer.completion_tokens) == (
            "a",
            '{"energy": 0.1}',
            10,
            5,
        )
        assert answer.latency_ms > 0 and answer.attempts == ()
        assert answer.cause == h.of(ev.LMRequest)[0].seq
        body = a.bodies[0]
        assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "phrase", "schema": SCHEMA}}
        assert body["max_tokens"] == 100
        health = h.of(ev.ProviderHealth)[0]
        assert health.states == {"a": "closed", "b": "closed"} and health.order == ("a", "b")


async def test_three_failures_open_the_circuit_then_one_probe_closes_it(
    servers: tuple[FaultServer, FaultServer],
) -> None:
    a, b = servers
    await a.set_mode("error500")
    async with running(two(a, b)) as h:
        for i in range(3):
            answer = await h.ask()
            assert isinstance(answer, ev.LMResponse) and answer.provider == "b"
            assert answer.attempts == ("a: server: HTTP 500: injected server error",)
            assert h.transitions("a") == ([] if i < 2 else [("closed", "open")])
        opened = h.of(ev.ProviderStateChanged)[0]
        assert opened.reason.startswith("3 consecutive failures")
        answer = await h.ask()  # open: a is not even asked
        assert answer.provider == "b" and answer.attempts == ("a: circuit open",) and a.posts == 3

        await trio.sleep(0.35)  # the cooldown is time itself, not a stand-in for synchronization
        await a.set_mode("trickle")  # the probe succeeds, slowly: everything sent meanwhile must skip a
        a.trickle_s = 0.002
        ids = [h.request() for _ in range(5)]
        answers = [await h.answer(i) for i in ids]
        assert a.posts == 4, "exactly one probe goes out in half-open"
        assert [x.provider for x in answers].count("a") == 1
        assert h.transitions("a") == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
        assert (await h.ask()).provider == "a"
        assert h.of(ev.ProviderHealth)[-1].states == {"a": "closed", "b": "closed"}


async def test_failed_probe_reopens(servers: tuple[FaultServer, FaultServer]) -> None:
    a, b = servers
    await a.set_mode("refuse")
    async with running(two(a, b, probe_at_start=False)) as h:
        for _ in range(3):
            assert (await h.ask()).provider == "b"
        assert "refused" in h.of(ev.ProviderStateChanged)[0].reason
        await trio.sleep(0.35)
        assert (await h.ask()).provider == "b"
        assert h.transitions("a") == [("closed", "open"), ("open", "half_open"), ("half_open", "open")]


async def test_rate_limit_opens_at_once_for_retry_after(servers: tuple[FaultServer, FaultServer]) -> None:
    a, b = servers
    await a.set_mode("rate_limit")
    a.retry_after = 30
    async with running(two(a, b)) as h:
        assert (await h.ask()).provider == "b"
        moved = h.of(ev.ProviderStateChanged)[0]
        assert (moved.old, moved.new) == ("closed", "open") and "retry after 30 s" in moved.reason
        await trio.sleep(0.35)  # past the cooldown, not past Retry-After
        assert (await h.ask()).attempts == ("a: circuit open",)
        assert a.posts == 1


@pytest.mark.parametrize("mode", ["malformed", "not_json"])
async def test_malformed_answers_are_provider_failures(servers: tuple[FaultServer, FaultServer], mode: str) -> None:
    a, b = servers
    if mode == "malformed":
        await a.set_mode("malformed")
    else:
        a.answer = "Sure! Here is your JSON: energy high"
    async with running(two(a, b, failure_threshold=1)) as h:
        answer = await h.ask(response_schema=SCHEMA)
        assert answer.provider == "b" and "malformed" in answer.attempts[0]
        assert h.transitions("a") == [("closed", "open")]


async def test_caller_error_fails_the_request_and_leaves_the_circuit_alone(
    servers: tuple[FaultServer, FaultServer],
) -> None:
    a, b = servers
    await a.set_mode("bad_request")
    async with running(two(a, b, failure_threshold=1)) as h:
        failed = await h.ask(response_schema=SCHEMA)
        assert isinstance(failed, ev.LMFailed)
        assert failed.reason == "caller error at a: HTTP 400: response_format json_schema is not supported"
        assert h.of(ev.ProviderStateChanged) == [] and b.posts == 0


async def test_every_provider_dead_fails_at_once(servers: tuple[FaultServer, FaultServer], autojump_clock) -> None:
    a, _ = servers
    await a.set_mode("refuse")
    router = {"providers": [provider("a", a.url), provider("dead", "http://127.0.0.1:9/v1")], "probe_at_start": False}
    async with running(router) as h:
        start = trio.current_time()
        failed = await h.ask(deadline_bar=8)
        assert isinstance(failed, ev.LMFailed) and failed.reason == "no provider could answer"
        assert [x.split(":")[0] for x in failed.attempts] == ["a", "dead"] and "refused" in failed.attempts[1]
        assert trio.current_time() == start, "virtual time: refusals wait for no timer"


async def test_providers_that_never_answer_end_at_the_deadline(
    servers: tuple[FaultServer, FaultServer], autojump_clock
) -> None:
    """Virtual time: the first hanging provider is hedged at its share of the deadline (b is asked too), both are
    cut at the deadline, and only the first one, whose slowness ate the time, gets the slow-call verdict."""
    a, b = servers
    await a.set_mode("hang")
    await b.set_mode("hang")
    async with running(two(a, b)) as h:  # 240 bpm: a bar is 1 s; bar 0 is due one bar after the set starts
        start = h.of(ev.SetStarted)[0]
        before = trio.current_time()
        failed = await h.ask(deadline_bar=1)
        assert isinstance(failed, ev.LMFailed)
        assert failed.reason == "no provider answered before the deadline (bar 1)"
        assert failed.attempts == (
            "a: timeout: slow call: no answer within 1.00 s",
            "b: no answer within 0.50 s (asked as a hedge: no verdict)",
        )
        assert (a.posts, b.posts) == (1, 1)
        assert trio.current_time() - before == pytest.approx(1.0)
        assert h.router.slots["a"].breaker.failures == 1 and h.router.slots["b"].breaker.failures == 0
        h.bus.publish(ev.BarPlayed(bar=0, plan_seq=start.seq), source="streamer")
        failed = await h.ask(deadline_bar=1)  # bar 1 is due when bar 0 has been played: now
        assert isinstance(failed, ev.LMFailed) and "deadline" in failed.reason and failed.attempts == ()
        assert (a.posts, b.posts) == (1, 1)


async def test_a_hanging_provider_gets_only_its_share_of_the_deadline(
    servers: tuple[FaultServer, FaultServer], autojump_clock
) -> None:
    """Failover within the same request: when the first has not answered by its share of the time left the next
    provider is asked too and answers before the deadline; the hedged call counts as slow against its provider."""
    a, b = servers
    await a.set_mode("hang")
    async with running(two(a, b)) as h:  # 240 bpm: bar 4 is due 4 s after the set starts; a gets half of that
        ids = [h.request(deadline_bar=4) for _ in range(3)]
        answers = [await h.answer(i) for i in ids]
        assert [type(x).__name__ for x in answers] == ["LMResponse"] * 3, answers
        assert all(x.provider == "b" for x in answers), answers
        assert {x.attempts for x in answers} == {("a: timeout: slow call: no answer within 2.00 s, b answered first",)}
        assert h.transitions("a") == [("closed", "open")], "three slow calls open the circuit"
        assert "slow call" in h.of(ev.ProviderStateChanged)[0].reason
        answer = await h.ask(deadline_bar=8)
        assert answer.provider == "b" and answer.attempts == ("a: circuit open",) and a.posts == 3


async def test_fast_mode_has_no_musical_deadline_only_timeouts(
    servers: tuple[FaultServer, FaultServer], autojump_clock
) -> None:
    a, b = servers
    await a.set_mode("trickle")  # bytes keep coming, so only the router's own clock can cut it off
    a.trickle_s = 0.05
    router = {"providers": [provider("a", a.url, timeout_s=0.3), provider("b", b.url)]}
    async with running(router, fast=True) as h:
        before = trio.current_time()
        answer = await h.ask(deadline_bar=0)  # already due in real time, but fast mode waits for decisions
        assert answer.provider == "b" and answer.attempts == ("a: timeout: slow call: no answer within 0.30 s",)
        assert trio.current_time() - before == pytest.approx(0.3), "virtual time: the timeout, then b at once"


async def test_unreachable_at_start_opens_the_circuit_and_bad_providers_are_excluded(
    servers: tuple[FaultServer, FaultServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = servers
    monkeypatch.delenv("BERGAIN_TEST_KEY", raising=False)
    router = {
        "providers": [
            provider("down", "http://127.0.0.1:9/v1"),
            {"name": "weird", "kind": "grpc"},
            {"name": "keyless", "kind": "openai", "key_env": "BERGAIN_TEST_KEY"},
            provider("a", a.url),
        ],
        "cooldown_s": 30,
    }
    async with running(router) as h:
        moved = await h.wait_for(ev.ProviderStateChanged)
        assert (moved.provider, moved.new) == ("down", "open") and moved.reason.startswith("at start: unreachable")
        health = h.of(ev.ProviderHealth)[0]
        assert health.order == ("down", "a")
        assert health.excluded == {
            "weird": "unknown provider kind 'grpc' (known: anthropic, local, openai, scripted)",
            "keyless": "key variable BERGAIN_TEST_KEY is not set",
        }
        answer = await h.ask()
        assert answer.provider == "a" and answer.attempts == ("down: circuit open",)


async def test_runtime_add_switch_remove_reset(servers: tuple[FaultServer, FaultServer]) -> None:
    a, b = servers
    async with running({"providers": [provider("a", a.url)], "failure_threshold": 1, "cooldown_s": 30}) as h:
        h.bus.publish(ev.ProviderControl(op="add", provider="b", config=provider("x", b.url)), source="control")
        assert h.of(ev.ProviderHealth)[-1].order == ("a", "b")
        h.bus.publish(ev.ProviderControl(op="switch", provider="b"), source="control")
        assert (await h.ask()).provider == "b"
        assert (await h.ask(model="a")).provider == "a"  # a request may name its provider
        await b.set_mode("error500")
        assert (await h.ask()).provider == "a" and h.transitions("b") == [("closed", "open")]
        await b.set_mode("ok")
        h.bus.publish(ev.ProviderControl(op="reset", provider="b"), source="control")
        assert h.transitions("b")[-1] == ("open", "closed")
        assert (await h.ask()).provider == "b"
        h.bus.publish(ev.ProviderControl(op="switch", provider="b", config={"model": "other"}), source="control")
        await h.ask()
        assert b.bodies[-1]["model"] == "other"
        h.bus.publish(ev.ProviderControl(op="remove", provider="b"), source="control")
        assert h.of(ev.ProviderHealth)[-1].order == ("a",)
        assert (await h.ask()).provider == "a"


async def test_anthropic_messages_api(
    servers: tuple[FaultServer, FaultServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = servers
    monkeypatch.setenv("BERGAIN_TEST_KEY", "sk-test")
    claude = {"name": "claude", "kind": "anthropic", "base_url": a.url, "key_env": "BERGAIN_TEST_KEY"}
    async with running({"providers": [claude]}) as h:
        messages = ({"role": "system", "content": "You are a DJ."}, {"role": "user", "content": "decide"})
        answer = await h.ask(messages=messages, response_schema=SCHEMA)
        assert (answer.provider, answer.text, answer.prompt_tokens, answer.completion_tokens) == (
            "claude",
            '{"energy": 0.1}',
            10,
            5,
        )
        body = a.bodies[0]
        assert body["messages"] == [{"role": "user", "content": "decide"}]
        assert body["system"].startswith("You are a DJ.") and json.dumps(SCHEMA) in body["system"]


async def test_scripted_answers_cycle_or_run_out(tmp_path: Path, autojump_clock) -> None:
    (tmp_path / "cycle.json").write_text(json.dumps({"phrase": [{"energy": 0.5}, "two"], "*": ["other"]}))
    (tmp_path / "once.toml").write_text('phrase = ["only once"]\n')
    router = {
        "providers": [
            {"name": "once", "kind": "scripted", "script": str(tmp_path / "once.toml"), "cycle": False},
            {"name": "cycle", "kind": "scripted", "script": str(tmp_path / "cycle.json")},
        ],
        "failure_threshold": 1,
    }
    async with running(router) as h:
        first = await h.ask()
        assert (first.provider, first.text, first.latency_ms) == ("once", "only once", 0.0)  # virtual time
        assert first.prompt_tokens == 5 and first.completion_tokens == 3
        texts = [(await h.ask()).text for _ in range(3)]
        assert texts == ['{"energy": 0.5}', "two", '{"energy": 0.5}']
        assert (await h.ask(purpose="critique")).text == "other"
        assert h.transitions("once") == [("closed", "open")]
        assert "all 1 scripted answers" in h.of(ev.ProviderStateChanged)[0].reason


async def test_a_hanging_first_provider_costs_no_phrase_in_a_live_set(tmp_path: Path, autojump_clock) -> None:
    """A set paced like speakers (virtual time): the first provider hangs on every call, yet each phrase is
    answered by the next one within its deadline, and after three slow calls the hanging one is skipped."""
    from bergain_actors.actors.streamer.sinks import ClockSink
    from bergain_actors.core import scenario as scenarios
    from tests.brain_support import load, play

    scenario, text = load("phrase_scripted.toml")
    async with trio.open_nursery() as nursery:
        hanging = await nursery.start(FaultServer().run)
        await hanging.set_mode("hang")
        (tmp_path / "answers.json").write_text(json.dumps({"phrase": [{"move": 1, "energy": "hold"}]}))
        scripted = {"name": "scripted", "kind": "scripted", "script": str(tmp_path / "answers.json")}
        providers = [provider("hang", hanging.url, timeout_s=30.0), scripted]
        router = msgspec.convert({"providers": providers, "probe_at_start": False}, scenarios.RouterConfig)
        scenario = scenarios.replace(scenario, minutes=None, bars=96, router=router)
        result = await play(scenario, text, tmp_path, sink=ClockSink(scenario.sample_rate))
        nursery.cancel_scope.cancel()
    requests = [e for e in result.events if isinstance(e, ev.LMRequest)]
    answers = [e for e in result.events if isinstance(e, ev.LMResponse)]
    assert len(requests) >= 5 and [e for e in result.events if isinstance(e, ev.LMFailed)] == []
    assert [a.provider for a in answers] == ["scripted"] * len(requests)
    assert [a.attempts[0].split(":")[1].strip() for a in answers] == ["timeout"] * 3 + ["circuit open"] * (
        len(requests) - 3
    )
    assert [e for e in result.events if isinstance(e, ev.BarHeld)] == [], "no answer came late"
