"""Router benchmark: overhead over a direct httpx call, failover time, and the embedded local LM.

    .venv/bin/python bench/bench_router.py [--requests 300] [--decisions 20] [--only hedging]

Everything runs for real on loopback: our fault server for the HTTP numbers, the router's own child process for
the local LM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx
import trio

from bergain_actors.actors.router.actor import ProviderRouter
from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.core import events as ev
from bergain_actors.core.actor import SLOT_ORDER, ActorContext, SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.scenario import from_builtins

ROLES = ["kick", "bass", "hat", "clap", "pad", "lead", "perc", "fx"]
DECISION = {
    "type": "object",
    "properties": {
        "energy": {"type": "number"},
        "add": {"type": "array", "maxItems": 2, "items": {"enum": ROLES}},
        "remove": {"type": "array", "maxItems": 2, "items": {"enum": ROLES}},
        "pattern": {"enum": ["four_on_floor", "broken", "half_time", "rolling"]},
        "why": {"type": "string", "maxLength": 80},
    },
    "required": ["energy", "add", "remove", "pattern", "why"],
}
MESSAGES = (
    {"role": "system", "content": "You are a techno DJ deciding the next 16-bar phrase. Answer in JSON."},
    {"role": "user", "content": "Bar 64, energy 0.6, playing kick bass hat. Decide the next phrase and say why."},
)


class Router:
    """A router on a bus of its own; ``ask`` publishes a request and waits for its answer."""

    def __init__(self, providers: list[dict[str, Any]], *, fast: bool = True, **router: Any) -> None:
        scenario = from_builtins({"router": {"providers": providers, "probe_at_start": False, **router}})
        self.bus = Bus(wall_clock=False)
        self.actor = ProviderRouter(
            ActorContext("router", self.bus, SetContext(scenario, fast=fast, total_bars=1)), scenario.router
        )
        self.bus.attach("router", self.actor, SLOT_ORDER)
        self.waiting: dict[str, tuple[trio.Event, list[ev.Event]]] = {}
        self.local_started = trio.Event()
        self.local: ev.LocalServerChanged | None = None
        self.bus.taps.append(self._tap)
        self.count = 0

    def _tap(self, event: ev.Event) -> None:
        if isinstance(event, ev.LMResponse | ev.LMFailed) and event.request_id in self.waiting:
            done, box = self.waiting.pop(event.request_id)
            box.append(event)
            done.set()
        elif isinstance(event, ev.LocalServerChanged) and event.status == "started":
            self.local = event
            self.local_started.set()
            self.local_started = trio.Event()

    async def ask(self, *, accept_failure: bool = False, **fields: Any) -> ev.LMResponse:
        self.count += 1
        request_id = f"r{self.count}"
        done, box = trio.Event(), []
        self.waiting[request_id] = (done, box)
        self.bus.publish(
            ev.LMRequest(request_id=request_id, purpose="phrase", messages=MESSAGES, **fields), source="conductor"
        )
        await done.wait()
        answer = box[0]
        assert accept_failure or isinstance(answer, ev.LMResponse), answer
        return answer  # type: ignore[return-value]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if v == v) or [float("nan")]
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def overhead(nursery: trio.Nursery, count: int) -> list[tuple[str, str]]:
    server = await nursery.start(FaultServer('{"energy": 0.5}').run)
    body = {"model": "m", "messages": list(MESSAGES), "max_tokens": 100, "temperature": 0.0}
    direct: list[float] = []
    async with httpx.AsyncClient() as client:
        for _ in range(20):
            await client.post(f"{server.url}/chat/completions", json=body)
        for _ in range(count):
            start = trio.current_time()
            response = await client.post(f"{server.url}/chat/completions", json=body)
            response.json()["choices"][0]["message"]["content"]
            direct.append((trio.current_time() - start) * 1000)
    router = Router([{"name": "fault", "kind": "openai", "base_url": server.url}])
    routed: list[float] = []
    async with trio.open_nursery() as inner:
        router.actor.ctx.nursery = inner
        inner.start_soon(router.actor.run, None)
        for _ in range(20):
            await router.ask(max_tokens=100)
        for _ in range(count):
            start = trio.current_time()
            await router.ask(max_tokens=100)
            routed.append((trio.current_time() - start) * 1000)
        inner.cancel_scope.cancel()
    d50, d99, r50, r99 = pct(direct, 50), pct(direct, 99), pct(routed, 50), pct(routed, 99)
    return [
        (f"direct httpx call, p50 / p99 (n={count})", f"{d50:.2f} / {d99:.2f} ms"),
        (f"through the router, p50 / p99 (n={count})", f"{r50:.2f} / {r99:.2f} ms"),
        ("router overhead, p50 / p99", f"{r50 - d50:+.2f} / {r99 - d99:+.2f} ms"),
    ]


async def failover(nursery: trio.Nursery) -> list[tuple[str, str]]:
    a = await nursery.start(FaultServer('{"energy": 0.1}').run)
    b = await nursery.start(FaultServer('{"energy": 0.9}').run)
    rows = []
    for death in ("refuse", "error500", "hang"):
        await a.set_mode("ok")
        router = Router(
            [
                {"name": "a", "kind": "openai", "base_url": a.url, "timeout_s": 1.0},
                {"name": "b", "kind": "openai", "base_url": b.url},
            ]
        )
        async with trio.open_nursery() as inner:
            router.actor.ctx.nursery = inner
            inner.start_soon(router.actor.run, None)
            assert (await router.ask()).provider == "a"
            await a.set_mode(death)
            start = trio.current_time()
            answer = await router.ask()
            assert answer.provider == "b"
            label = {"refuse": "refused", "error500": "HTTP 500", "hang": "hangs (timeout_s = 1)"}[death]
            rows.append((f"provider death → next answers: {label}", f"{(trio.current_time() - start) * 1000:.1f} ms"))
            inner.cancel_scope.cancel()
    return rows


async def hedging(nursery: trio.Nursery, requests: int = 5) -> list[tuple[str, str]]:
    """A live set's deadline (2 bars at 128 BPM: 3.75 s), a first provider that hangs and a fallback that needs
    2.5 s (a model on a loaded machine): an even split would leave the fallback 1.9 s; hedging asks it in time."""
    hanging = await nursery.start(FaultServer('{"energy": 0.1}').run)
    slow = await nursery.start(FaultServer('{"energy": 0.9}').run)
    slow.mode, slow.delay_s = "slow", 2.5
    providers = [
        {"name": "hang", "kind": "openai", "base_url": hanging.url, "timeout_s": 30.0},
        {"name": "slow", "kind": "openai", "base_url": slow.url, "timeout_s": 30.0},
    ]
    router = Router(providers, failure_threshold=requests + 1, fast=False)
    answered, latencies = 0, []
    async with trio.open_nursery() as inner:
        router.actor.ctx.nursery = inner
        inner.start_soon(router.actor.run, None)
        await router.ask(model="slow")  # the router learns the fallback's pace
        await hanging.set_mode("hang")
        for _ in range(requests):
            answer = await router.ask(deadline_bar=2, accept_failure=True)
            answered += isinstance(answer, ev.LMResponse)
            latencies.append(answer.latency_ms if isinstance(answer, ev.LMResponse) else float("nan"))
        inner.cancel_scope.cancel()
    label = "hanging first + fallback needing 2.5 s, 3.75 s deadline"
    return [(f"{label}: answered", f"{answered} of {requests}, p50 {pct(latencies, 50):.0f} ms")]


async def local_lm(decisions: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        canned = Path(folder) / "canned.json"
        canned.write_text(json.dumps([{"energy": 0.5}]))
        router = Router(
            [{"name": "local", "kind": "local"}, {"name": "canned", "kind": "scripted", "script": str(canned)}],
            restart_delay_s=0.1,
        )
        rows = []
        async with trio.open_nursery() as inner:
            router.actor.ctx.nursery = inner
            start = trio.current_time()
            inner.start_soon(router.actor.run, None)
            await router.local_started.wait()
            rows.append(("embedded server start (spawn → listening)", f"{trio.current_time() - start:.2f} s"))
            assert router.local is not None
            await router.ask(response_schema=DECISION, max_tokens=240)  # first request warms the prompt cache
            latencies, speeds, tokens = [], [], []
            for _ in range(decisions):
                answer = await router.ask(response_schema=DECISION, max_tokens=240)
                assert answer.provider == "local", answer
                json.loads(answer.text)
                latencies.append(answer.latency_ms)
                tokens.append(answer.completion_tokens)
                speeds.append(answer.completion_tokens / (answer.latency_ms / 1000))
            rss = _rss_mb(router.local.pid)
            rows += [
                ("embedded server RSS (child process)", f"{rss:.0f} MB"),
                (f"JSON decision, output tokens (mean, n={decisions})", f"{statistics.mean(tokens):.0f}"),
                ("JSON decision latency p50 / p95", f"{pct(latencies, 50):.0f} / {pct(latencies, 95):.0f} ms"),
                ("JSON decision tokens/s (mean, incl. prompt)", f"{statistics.mean(speeds):.0f}"),
            ]
            os.kill(router.local.pid, signal.SIGKILL)
            start = trio.current_time()
            answer = await router.ask(response_schema=DECISION, max_tokens=240)
            took = (trio.current_time() - start) * 1000
            rows.append((f"local child SIGKILL → next answers ({answer.provider})", f"{took:.1f} ms"))
            start = trio.current_time()
            await router.local_started.wait()
            rows.append(("local child restart (death noticed → listening)", f"{trio.current_time() - start:.2f} s"))
            inner.cancel_scope.cancel()
        return rows


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main(requests: int, decisions: int, only: str) -> None:
    rows: list[tuple[str, str]] = []
    async with trio.open_nursery() as nursery:
        if only in ("", "overhead"):
            rows += await overhead(nursery, requests)
        if only in ("", "failover"):
            rows += await failover(nursery)
        if only in ("", "hedging"):
            rows += await hedging(nursery)
        if only in ("", "local"):
            rows += await local_lm(decisions)
        nursery.cancel_scope.cancel()
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--only", choices=("overhead", "failover", "hedging", "local"), default="")
    args = parser.parse_args()
    trio.run(main, args.requests, args.decisions, args.only)
