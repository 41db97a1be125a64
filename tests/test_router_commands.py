"""Provider commands from outside the set (``provider add``, ``POST /providers``): an API key variable reaches a
server only when the operator allowed it, and a refused command changes nothing and is said over HTTP as a 4xx.
Real servers on 127.0.0.1: the router's fault server stands in for a server that must not receive a secret."""

from __future__ import annotations

import httpx
import pytest
import trio
from conftest import make_scenario
from router_harness import provider, running

from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.cli import allow_keys, build_parser
from bergain_actors.core import events as ev
from bergain_actors.service.app import Api
from bergain_actors.service.http import listen, serve_app
from bergain_actors.service.session import router_session

pytestmark = pytest.mark.timeout(120)

SECRET = "BERGAIN_TEST_SECRET"
VALUE = "sk-canary-0123456789abcdef"


def carried(server: FaultServer) -> bool:
    """Whether any request the server received carried the secret, anywhere in its headers or body."""
    return any(VALUE in str(h) for h in server.headers) or any(VALUE in str(b) for b in server.bodies)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET, VALUE)
    return SECRET


async def test_a_runtime_provider_may_not_send_a_key_the_operator_did_not_allow(
    nursery: trio.Nursery, secret: str
) -> None:
    spy = await nursery.start(FaultServer().run)
    async with running({"providers": [provider("a", spy.url)], "probe_at_start": False}) as h:
        exfil = {"kind": "openai", "base_url": spy.url, "key_env": secret}
        h.bus.publish(ev.ProviderControl(op="add", provider="exfil", config=exfil), source="control")
        h.bus.publish(ev.ProviderControl(op="switch", provider="exfil"), source="control")
        answer = await h.ask(best_effort=True)
        assert answer.provider == "a"
    rejected = h.of(ev.CommandRejected)
    assert [r.command for r in rejected] == ["provider add exfil", "provider switch exfil"]
    assert rejected[0].reason.startswith(f"key variable {secret} is not allowed for a provider added at runtime")
    assert all("exfil" not in e.order and "exfil" not in e.excluded for e in h.of(ev.ProviderHealth))
    assert spy.posts == 1 and not carried(spy), "the server never saw the secret"


async def test_the_kinds_own_key_needs_allowing_too_and_an_allowed_one_is_used(
    nursery: trio.Nursery, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``key_env`` and no ``base_url`` reads the kind's own variable (``OPENAI_API_KEY``): refused as well; a
    variable on the allow-list is sent, to the server the command names."""
    monkeypatch.setenv("OPENAI_API_KEY", VALUE)
    server = await nursery.start(FaultServer().run)
    router = {"providers": [], "probe_at_start": False, "allow_key_env": [secret]}
    async with running(router) as h:
        h.bus.publish(ev.ProviderControl(op="add", provider="gpt", config={"kind": "openai"}), source="control")
        assert "key variable OPENAI_API_KEY is not allowed" in h.of(ev.CommandRejected)[0].reason
        config = {"kind": "openai", "base_url": server.url, "key_env": secret}
        h.bus.publish(ev.ProviderControl(op="add", provider="allowed", config=config), source="control")
        assert h.of(ev.ProviderHealth)[-1].order == ("allowed",)
        assert (await h.ask()).provider == "allowed"
    assert server.headers[-1]["authorization"] == f"Bearer {VALUE}"


async def test_a_scenario_provider_keeps_its_key_where_the_scenario_sends_it(
    nursery: trio.Nursery, secret: str
) -> None:
    """Bringing back (or changing the model of) a provider the set started with needs no allowing; moving its key
    to another server does."""
    home, elsewhere = await nursery.start(FaultServer().run), await nursery.start(FaultServer().run)
    listed = provider("home", home.url, key_env=secret)
    async with running({"providers": [listed], "probe_at_start": False}) as h:
        h.bus.publish(ev.ProviderControl(op="remove", provider="home"), source="control")
        h.bus.publish(ev.ProviderControl(op="add", provider="home"), source="control")
        h.bus.publish(ev.ProviderControl(op="switch", provider="home", config={"model": "m2"}), source="control")
        moved = {"base_url": elsewhere.url}
        h.bus.publish(ev.ProviderControl(op="switch", provider="home", config=moved), source="control")
        assert (await h.ask()).provider == "home"
    assert [r.command for r in h.of(ev.CommandRejected)] == ["provider switch home"]
    assert home.bodies[-1]["model"] == "m2" and carried(home)
    assert elsewhere.headers == [] and not carried(elsewhere)


def test_the_operator_allows_keys_in_the_scenario_or_with_a_flag(tmp_path) -> None:
    scenario = make_scenario(tmp_path, router={"allow_key_env": ["A_KEY"]})
    args = build_parser().parse_args(["serve", "--allow-key-env", "B_KEY", "--allow-key-env=A_KEY"])
    assert allow_keys(scenario, args.allow_key_env).router.allow_key_env == ["A_KEY", "B_KEY"]


async def test_http_refusals_are_4xx_with_the_reason_and_leave_no_ghost(tmp_path, secret: str) -> None:
    events: list[ev.Event] = []
    opened = trio.Event()

    def seen(event: ev.Event) -> None:
        events.append(event)
        if len([e for e in events if isinstance(e, ev.ProviderStateChanged)]) == 2:
            opened.set()

    async with trio.open_nursery() as nursery:
        spy = await nursery.start(FaultServer().run)
        spy.models_status = 401  # each provider's start check opens its circuit: one change per provider added
        scenario = make_scenario(tmp_path, router={"providers": [provider("a", spy.url)], "cooldown_s": 30})
        async with router_session(scenario) as session:
            session.bus.taps.append(seen)
            port = await nursery.start(serve_app, Api(session).app, listen("127.0.0.1", 0))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                martian = await client.post("/providers", json={"name": "bad", "kind": "martian"})
                exfil = await client.post(
                    "/providers", json={"name": "exfil", "kind": "openai", "base_url": spy.url, "key_env": secret}
                )
                spare = {"name": "spare", "kind": "openai", "base_url": spy.url}
                first, second = [await client.post("/providers", json=spare) for _ in range(2)]
                typed = await client.post("/control", json={"command": "provider add spare openai m"})
                with trio.fail_after(30):
                    await opened.wait()
                rows = (await client.get("/providers")).json()
                gone = await client.delete("/providers/bad")
            nursery.cancel_scope.cancel()
    assert martian.status_code == 422
    assert martian.json()["error"] == (
        "rejected: provider add bad: unknown provider kind 'martian' (known: anthropic, local, openai, scripted)"
    )
    assert exfil.status_code == 422 and f"key variable {secret} is not allowed" in exfil.json()["error"]
    assert first.status_code == 202 and second.status_code == 409 and second.json()["field"] == "name"
    assert "spare is already a provider" in second.json()["error"]
    assert typed.status_code == 422 and "spare is already a provider" in typed.json()["error"]
    assert [(r["name"], r["state"]) for r in rows] == [("a", "open"), ("spare", "open")], "no × bad, no exfil"
    assert gone.status_code == 404
    changes = [(e.provider, e.old, e.new) for e in events if isinstance(e, ev.ProviderStateChanged)]
    assert sorted(changes) == [("a", "closed", "open"), ("spare", "closed", "open")], "each change listed once"
    assert all(
        e.reason.startswith("at start: rejected: HTTP 401") for e in events if isinstance(e, ev.ProviderStateChanged)
    )
    assert not carried(spy)
