"""The real embedded LM (SmolLM2 on xllamacpp) in a child process started by the router itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio
from router_harness import provider, running

from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.actors.router.local import LIVE_NICE
from bergain_actors.core import events as ev

ROLES = ["kick", "bass", "hat", "clap", "pad"]
SCHEMA = {
    "type": "object",
    "properties": {
        "energy": {"type": "number"},
        "add": {"type": "array", "maxItems": 2, "items": {"enum": ROLES}},
    },
    "required": ["energy", "add"],
}
MESSAGES = (
    {"role": "system", "content": "You are a techno DJ. Answer in JSON."},
    {"role": "user", "content": "Next phrase: give the energy from 0 to 1 and up to two roles to add."},
)


pytestmark = [pytest.mark.llm, pytest.mark.timeout(900)]
LOCAL = {"name": "local", "kind": "local", "timeout_s": 300.0}
"""The child runs niced: on a loaded 2-core machine it takes a minute to start and tens of seconds to answer."""


def local_first(tmp_path: Path, **router: object) -> dict[str, object]:
    (tmp_path / "canned.json").write_text(json.dumps([{"energy": 0.5, "add": []}]))
    fallback = {"name": "canned", "kind": "scripted", "script": str(tmp_path / "canned.json")}
    return {"providers": [LOCAL, fallback], "restart_delay_s": 0.1, **router}


async def started(h, other_than: int = 0) -> ev.LocalServerChanged:
    """The local server's next start (a failed start is retried by the router), within a generous deadline."""
    with trio.fail_after(600):
        return await h.wait_for(ev.LocalServerChanged, lambda e: e.status == "started" and e.pid != other_than)


def assert_decision(text: str) -> None:
    decision = json.loads(text)
    assert isinstance(decision["energy"], int | float)
    assert len(decision["add"]) <= 2 and set(decision["add"]) <= set(ROLES)


def lowered(pid: int) -> int:
    """How far the child's priority is below this process's."""
    return os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)


def allowed(nice: int) -> bool:
    """Whether this process may take ``nice`` (it changes nothing: the value is tried on a throwaway child)."""
    code = f"import os; os.setpriority(os.PRIO_PROCESS, 0, {nice})"
    return subprocess.run([sys.executable, "-c", code], stderr=subprocess.DEVNULL, timeout=60).returncode == 0


def assert_live_priority(up: ev.LocalServerChanged) -> None:
    """Live, the child runs in a session of its own at ``LIVE_NICE`` where allowed, and says so."""
    assert os.getsid(up.pid) == up.pid != os.getsid(0), "a session (scheduling group) of its own"
    nice = os.getpriority(os.PRIO_PROCESS, up.pid)
    assert nice == (LIVE_NICE if allowed(LIVE_NICE) else os.getpriority(os.PRIO_PROCESS, 0)), up.detail
    assert f"nice {nice}" in up.detail
    group = Path(f"/proc/{up.pid}/autogroup")
    if group.exists():
        assert group.read_text().split()[-1] == str(nice), "its session's share follows its nice"


async def test_schema_constrained_answer_from_the_embedded_server(tmp_path: Path) -> None:
    async with running(local_first(tmp_path), fast=True) as h:  # offline: the set would wait for the model
        up = await started(h)
        assert up.address.startswith("http://127.0.0.1:") and up.pid != os.getpid()
        assert lowered(up.pid) == 0, "offline nothing plays in real time: the model is not niced"
        assert os.getsid(up.pid) == os.getsid(0), "offline the model shares the set's session"
        answer = await h.ask(messages=MESSAGES, response_schema=SCHEMA, max_tokens=100)
        assert isinstance(answer, ev.LMResponse) and answer.provider == "local", answer
        assert_decision(answer.text)
        assert answer.completion_tokens > 0 and answer.prompt_tokens > 0
    assert h.router.slots["local"].server.process.returncode is not None, "the child is stopped with the set"


async def test_killed_child_fails_over_restarts_and_recovers(tmp_path: Path) -> None:
    async with running(local_first(tmp_path)) as h:
        first = await started(h)
        assert_live_priority(first)
        assert (await h.ask(messages=MESSAGES, response_schema=SCHEMA)).provider == "local"

        os.kill(first.pid, signal.SIGKILL)
        exited = await h.wait_for(ev.LocalServerChanged, lambda e: e.status == "exited")
        assert exited.detail == "exit code -9"
        during = await h.ask(messages=MESSAGES, response_schema=SCHEMA)
        assert during.provider == "canned"

        again = await started(h, other_than=first.pid)
        assert_live_priority(again)
        answer = await h.ask(messages=MESSAGES, response_schema=SCHEMA, max_tokens=100)
        assert answer.provider == "local"
        assert_decision(answer.text)
        assert h.transitions("local") == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
        reasons = [e.reason for e in h.of(ev.ProviderStateChanged)]
        assert reasons[0] == "local server exited: exit code -9" and "restarted" in reasons[1]
        assert [e.status for e in h.of(ev.LocalServerChanged)] == ["started", "exited", "started"]
        assert again.address != ""


async def test_fast_mode_waits_for_the_restart_after_a_crash(tmp_path: Path) -> None:
    """Offline the music waits for decisions: after the child dies, a request waits for the restarted server
    (within the provider's timeout) instead of failing while it boots."""
    router = {"providers": [LOCAL], "restart_delay_s": 0.1}
    async with running(router, fast=True) as h:
        first = await started(h)
        os.kill(first.pid, signal.SIGKILL)
        await h.wait_for(ev.LocalServerChanged, lambda e: e.status == "exited")
        answer = await h.ask(messages=MESSAGES, response_schema=SCHEMA, max_tokens=100)
        assert isinstance(answer, ev.LMResponse) and answer.provider == "local", answer
        assert_decision(answer.text)
        assert [e.status for e in h.of(ev.LocalServerChanged)] == ["started", "exited", "started"]


async def test_fault_server_in_front_of_the_real_server(tmp_path: Path, nursery: trio.Nursery) -> None:
    """Faults injected between the router and the real local LM: it fails over, then gets the real answer."""
    async with running(local_first(tmp_path), fast=True) as h:
        up = await started(h)
        proxy = await nursery.start(FaultServer(proxy_to=f"{up.address}/v1").run)
        await proxy.set_mode("error500")
        h.bus.publish(
            ev.ProviderControl(
                op="add", provider="proxied", config=provider("proxied", proxy.url, model="smollm2", timeout_s=300.0)
            ),
            source="control",
        )
        h.bus.publish(ev.ProviderControl(op="switch", provider="proxied"), source="control")
        assert (await h.ask(messages=MESSAGES, response_schema=SCHEMA)).provider == "local"
        await proxy.set_mode("proxy")
        answer = await h.ask(messages=MESSAGES, response_schema=SCHEMA, max_tokens=100)
        assert answer.provider == "proxied" and answer.attempts == ()
        assert_decision(answer.text)


async def test_a_question_while_the_model_boots_waits_for_it(tmp_path: Path) -> None:
    """Live, an API question (no musical deadline) that only the booting local server could answer waits for it,
    within the provider's timeout, instead of failing at once."""
    async with running({"providers": [LOCAL]}) as h:
        asked = h.request(messages=MESSAGES, response_schema=SCHEMA, max_tokens=100, best_effort=True)
        assert not h.of(ev.LocalServerChanged), "asked while the server is still starting"
        answer = await h.answer(asked)
        assert isinstance(answer, ev.LMResponse) and answer.provider == "local", answer
        assert_decision(answer.text)


async def _processing(address: str) -> None:
    """Until the llama.cpp server reports its slot busy with a request (its ``/slots`` endpoint)."""
    async with httpx.AsyncClient(timeout=5) as client:
        with trio.fail_after(300):
            while not any(s["is_processing"] for s in (await client.get(f"{address}/slots")).json()):
                await trio.sleep(0.02)  # polling the server's own state: nothing to wait on instead


async def test_a_call_in_flight_when_the_child_dies_is_asked_again_on_the_restarted_server(tmp_path: Path) -> None:
    async with running({"providers": [LOCAL], "restart_delay_s": 0.1}, fast=True) as h:
        first = await started(h)
        story = ({"role": "user", "content": "Tell a long story about a techno DJ in Berlin, in many sentences."},)
        asked = h.request(messages=story, max_tokens=400, purpose="ask")
        await _processing(first.address)
        os.kill(first.pid, signal.SIGKILL)
        answer = await h.answer(asked)
        assert isinstance(answer, ev.LMResponse) and answer.provider == "local", answer
        assert answer.text.strip() and len(answer.attempts) == 1
        assert answer.attempts[0].startswith("local: server: connection broke")
        assert answer.attempts[0].endswith("asked the restarted server again")
        assert [e.status for e in h.of(ev.LocalServerChanged)] == ["started", "exited", "started"]
        assert h.transitions("local")[-1] == ("half_open", "closed"), "the retry was the restarted server's probe"
