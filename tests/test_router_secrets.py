"""API keys never reach the log or the console, even when a provider echoes them back in an error."""

from __future__ import annotations

import msgspec
import pytest
import trio

from bergain_actors.actors.router.fault_server import FaultServer
from bergain_actors.cli import play_by_play
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.scenario import ProviderConfig
from tests.brain_support import load, logged, of, play

OPENAI_KEY = "sk-test-0123456789abcdefSECRET"
ANTHROPIC_KEY = "sk-ant-test-9876543210zyxwvuSECRET"


@pytest.mark.timeout(120)
async def test_a_provider_echoing_the_key_leaves_no_trace_of_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BERGAIN_TEST_OPENAI_KEY", OPENAI_KEY)
    monkeypatch.setenv("BERGAIN_TEST_ANTHROPIC_KEY", ANTHROPIC_KEY)
    scenario, text = load("phrase_scripted.toml")
    async with trio.open_nursery() as nursery:
        leaky = await nursery.start(FaultServer().run)
        await leaky.set_mode("echo_key")
        providers = [
            ProviderConfig(name="leaky", kind="openai", base_url=leaky.url, key_env="BERGAIN_TEST_OPENAI_KEY"),
            ProviderConfig(name="leakier", kind="anthropic", base_url=leaky.url, key_env="BERGAIN_TEST_ANTHROPIC_KEY"),
            *scenario.router.providers,
        ]
        router = msgspec.structs.replace(scenario.router, providers=providers, probe_at_start=False)
        scenario = scenarios.replace(scenario, minutes=None, bars=64, router=router)
        result = await play(scenario, text, tmp_path, on_event=play_by_play())
        nursery.cancel_scope.cancel()
    assert leaky.hits.count("echo_key") >= 4, "both providers were asked and answered with the key"
    events = logged(result.log_path)
    rejected = [a for e in of(events, ev.LMResponse) for a in e.attempts if "HTTP 401" in a]
    assert rejected and all("Incorrect API key provided: [redacted" in a for a in rejected), rejected
    console = capsys.readouterr()
    assert "Incorrect API key provided: [redacted" in console.out + console.err, "the console showed the 401"
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        for fragment in (key, key[: len(key) // 2], key[len(key) // 2 :]):
            assert fragment.encode() not in result.log_path.read_bytes()
            assert fragment not in console.out and fragment not in console.err


def test_redaction_reaches_every_string_of_an_event_and_spares_short_values():
    from bergain_actors.actors.router.secrets import Secrets

    secrets = Secrets()
    secrets.add("sk-abc", "SHORT")  # too short to be a key: left alone
    secrets.add(OPENAI_KEY, "OPENAI_API_KEY")
    secrets.add(OPENAI_KEY + "-and-more", "LONGER")
    failed = ev.LMFailed(request_id="r1", reason=f"x {OPENAI_KEY}-and-more", attempts=(f"a: {OPENAI_KEY}", "sk-abc"))
    health = ev.ProviderHealth(states={"a": "open"}, order=("a",), excluded={"a": f"bad {OPENAI_KEY}"})
    assert secrets.struct(failed) == msgspec.structs.replace(
        failed, reason="x [redacted $LONGER]", attempts=("a: [redacted $OPENAI_API_KEY]", "sk-abc")
    )
    assert secrets.struct(health).excluded == {"a": "bad [redacted $OPENAI_API_KEY]"}
    assert secrets.struct(ev.LMFailed(request_id="r2", reason="fine")) == ev.LMFailed(request_id="r2", reason="fine")
