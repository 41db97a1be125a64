"""Auto-detection and the ``providers`` report, against real loopback servers."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import trio

from bergain_actors.actors.router.detect import autodetect
from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.actors.router.report import format_providers, probe_providers
from bergain_actors.core import actor as registry
from bergain_actors.core.scenario import RouterConfig


async def test_autodetect_keys_and_local_servers(nursery: trio.Nursery) -> None:
    ollama = await nursery.start(FaultServer().run)
    config = msgspec.convert({"providers": [{"name": "anthropic", "kind": "scripted", "script": "x"}]}, RouterConfig)
    env = {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-y"}
    found = await autodetect(config, env=env, local_ports={"ollama": ollama.port, "lmstudio": 9})
    assert [(p.name, p.kind, p.model, p.base_url) for p in found] == [
        ("openai", "openai", "gpt-4o-mini", ""),  # anthropic is taken by a configured provider of that name
        ("ollama", "openai", "fault-model", f"http://127.0.0.1:{ollama.port}/v1"),
    ]
    assert ollama.posts == 0


async def test_report_says_what_works_and_why_not(
    tmp_path: Path, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = await nursery.start(FaultServer().run)
    monkeypatch.delenv("BERGAIN_MISSING_KEY", raising=False)
    (tmp_path / "canned.json").write_text('["a", "b"]')
    config = msgspec.convert(
        {
            "providers": [
                {"name": "up", "kind": "openai", "base_url": up.url, "model": "m"},
                {"name": "down", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"},
                {"name": "nokey", "kind": "anthropic", "key_env": "BERGAIN_MISSING_KEY"},
                {"name": "weird", "kind": "grpc"},
                {"name": "local", "kind": "local"},
                {"name": "gone", "kind": "local", "model_path": "nowhere.gguf"},
                {"name": "canned", "kind": "scripted", "script": "canned.json"},
            ]
        },
        RouterConfig,
    )
    statuses = await probe_providers(config, base_dir=tmp_path)
    by_name = {s.name: s for s in statuses}
    assert [s.name for s in statuses] == ["up", "down", "nokey", "weird", "local", "gone", "canned"]
    assert by_name["up"].state == "closed" and by_name["up"].detail.startswith("reachable")
    assert by_name["down"].state == "open" and by_name["down"].detail.startswith("unreachable: http://127.0.0.1:9/v1")
    assert by_name["nokey"].detail == "key variable BERGAIN_MISSING_KEY is not set"
    assert by_name["weird"].detail.startswith("unknown provider kind 'grpc'")
    assert by_name["local"].state == "closed" and "SmolLM2-135M-Instruct" in by_name["local"].detail
    assert by_name["gone"].state == "open" and by_name["gone"].detail.startswith("model file missing")
    assert by_name["canned"].detail == "2 scripted answers from canned.json"

    text = format_providers(statuses, as_json=False)
    assert text.splitlines()[0].startswith("● up ") and "○ down" in text
    assert text.splitlines()[-1].startswith("3 of 7 usable")
    assert json.loads(format_providers(statuses, as_json=True))[1]["state"] == "open"
    assert format_providers([], as_json=False).startswith("no providers")


async def test_a_dripping_server_cannot_hold_the_report(nursery: trio.Nursery, autojump_clock) -> None:
    """``/models`` sending a byte a second never trips a per-read timeout; the probe has a total deadline."""
    drip = await nursery.start(FaultServer().run)
    drip.models_trickle, drip.trickle_s = True, 1.0
    config = msgspec.convert({"providers": [{"name": "drip", "kind": "openai", "base_url": drip.url}]}, RouterConfig)
    with trio.fail_after(60):  # virtual seconds: the answer takes ~60 to drip through
        [status] = await probe_providers(config)
    assert status.state == "open" and status.detail == f"unreachable: {drip.url} did not answer within 2 s"
    with trio.fail_after(60):
        found = await autodetect(RouterConfig(), env={}, local_ports={"ollama": drip.port})
    assert found == [], "a local port that only drips is not a usable provider"


async def test_a_server_that_refuses_the_key_is_not_called_usable(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/models`` answering 401 (a wrong or revoked key) means every call would be refused too: not "reachable",
    and the key a 401 may echo is not printed."""
    refusing, fine = await nursery.start(FaultServer().run), await nursery.start(FaultServer().run)
    refusing.models_status = 401
    monkeypatch.setenv("BERGAIN_TEST_KEY", "sk-revoked-0123456789")
    providers = [
        {"name": "revoked", "kind": "openai", "base_url": refusing.url, "key_env": "BERGAIN_TEST_KEY"},
        {"name": "fine", "kind": "openai", "base_url": fine.url},
    ]
    statuses = await probe_providers(msgspec.convert({"providers": providers}, RouterConfig))
    revoked = statuses[0]
    assert revoked.state == "open"
    assert revoked.detail == f"rejected: HTTP 401 from {refusing.url}/models: Incorrect API key provided"
    text = format_providers(statuses, as_json=False)
    assert "reachable" not in text.splitlines()[0] and text.splitlines()[-1].startswith("1 of 2 usable")
    assert refusing.headers[0]["authorization"] == "Bearer sk-revoked-0123456789" and "sk-revoked" not in text


def test_router_kind_is_registered() -> None:
    assert registry.factory("router", "router").__name__ == "ProviderRouter"
