"""The circuit breaker alone, in trio's virtual time (autojump clock: a 60 s cooldown passes instantly)."""

from __future__ import annotations

import anyio
import trio

from bergain_actors.actors.router.breaker import Breaker, Transition


def trip(breaker: Breaker) -> list[Transition | None]:
    moves = []
    for _ in range(breaker.failure_threshold):
        permit, _ = breaker.admit(anyio.current_time())
        assert permit == "call"
        moves.append(breaker.failed(anyio.current_time(), "server: HTTP 500", permit))
    return moves


async def test_opens_after_three_consecutive_failures(autojump_clock: trio.testing.MockClock) -> None:
    breaker = Breaker(failure_threshold=3, cooldown_s=60)
    now = anyio.current_time()
    assert breaker.failed(now, "refused", "call") is None
    assert breaker.failed(now, "refused", "call") is None
    assert breaker.succeeded("call") is None  # a success resets the count: failures must be consecutive
    moves = trip(breaker)
    assert moves[:2] == [None, None]
    assert moves[2] == Transition("closed", "open", "3 consecutive failures, last: server: HTTP 500")
    assert breaker.admit(anyio.current_time()) == (None, None)


async def test_exactly_one_probe_after_cooldown_then_closed(autojump_clock: trio.testing.MockClock) -> None:
    breaker = Breaker(cooldown_s=60)
    trip(breaker)
    await trio.sleep(59.9)
    assert not breaker.available(anyio.current_time())
    assert breaker.admit(anyio.current_time()) == (None, None)
    await trio.sleep(0.1)
    assert breaker.available(anyio.current_time())
    permit, moved = breaker.admit(anyio.current_time())
    assert permit == "probe"
    assert moved == Transition("open", "half_open", "cooldown over: one probe")
    for _ in range(5):  # while the probe is out, nobody else gets through
        assert breaker.admit(anyio.current_time()) == (None, None)
    assert not breaker.available(anyio.current_time())
    assert breaker.succeeded("probe") == Transition("half_open", "closed", "probe succeeded")
    assert breaker.admit(anyio.current_time()) == ("call", None)
    assert breaker.failures == 0


async def test_failed_probe_opens_for_another_cooldown(autojump_clock: trio.testing.MockClock) -> None:
    breaker = Breaker(cooldown_s=60)
    trip(breaker)
    await trio.sleep(60)
    permit, _ = breaker.admit(anyio.current_time())
    moved = breaker.failed(anyio.current_time(), "timeout: slow call", permit)
    assert moved == Transition("half_open", "open", "probe failed: timeout: slow call")
    await trio.sleep(59)
    assert breaker.admit(anyio.current_time()) == (None, None)
    await trio.sleep(1)
    assert breaker.admit(anyio.current_time())[0] == "probe"


async def test_retry_after_opens_at_least_that_long(autojump_clock: trio.testing.MockClock) -> None:
    breaker = Breaker(cooldown_s=60)
    moved = breaker.failed(anyio.current_time(), "rate_limited: HTTP 429", "call", retry_after=5)
    assert moved is not None and moved.new == "open" and "retry after 5 s" in moved.reason  # at once, under 3
    await trio.sleep(4.9)
    assert breaker.admit(anyio.current_time())[0] is None
    await trio.sleep(0.1)
    permit, _ = breaker.admit(anyio.current_time())
    assert permit == "probe"
    breaker.failed(anyio.current_time(), "rate_limited", permit, retry_after=120)  # longer than the cooldown
    await trio.sleep(119)
    assert breaker.admit(anyio.current_time())[0] is None
    await trio.sleep(1)
    assert breaker.admit(anyio.current_time())[0] == "probe"


async def test_no_verdict_releases_the_probe(autojump_clock: trio.testing.MockClock) -> None:
    breaker = Breaker(cooldown_s=1)
    trip(breaker)
    await trio.sleep(1)
    permit, _ = breaker.admit(anyio.current_time())
    assert permit == "probe"
    breaker.release(permit)  # cancelled, or the caller's own error: the circuit is untouched
    assert breaker.state == "half_open"
    assert breaker.admit(anyio.current_time())[0] == "probe"


async def test_late_results_of_calls_admitted_before_the_trip_are_ignored(
    autojump_clock: trio.testing.MockClock,
) -> None:
    breaker = Breaker(cooldown_s=10)
    early, _ = breaker.admit(anyio.current_time())
    trip(breaker)
    assert breaker.succeeded(early) is None
    assert breaker.state == "open"
    assert breaker.failed(anyio.current_time(), "late", early) is None


async def test_manual_moves(autojump_clock: trio.testing.MockClock) -> None:
    breaker = Breaker()
    assert breaker.trip("local server exited: exit code -9") == Transition(
        "closed", "open", "local server exited: exit code -9"
    )
    await trio.sleep(3600)
    assert breaker.admit(anyio.current_time())[0] is None  # tripped: open until further notice
    assert breaker.half_open("restarted") == Transition("open", "half_open", "restarted")
    assert breaker.reset() == Transition("half_open", "closed", "manual reset")
    assert breaker.reset() is None
