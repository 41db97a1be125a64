"""``auto = true``: providers found at start — API keys in the environment, local servers answering on loopback."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx
import trio

from bergain_actors.core.scenario import ProviderConfig, RouterConfig

KEYED = (
    ProviderConfig(name="openai", kind="openai", key_env="OPENAI_API_KEY", model="gpt-4o-mini"),
    ProviderConfig(name="anthropic", kind="anthropic", key_env="ANTHROPIC_API_KEY"),
    ProviderConfig(
        name="openrouter",
        kind="openai",
        key_env="OPENROUTER_API_KEY",
        base_url="https://openrouter.ai/api/v1",
        model="openai/gpt-4o-mini",
    ),
)
LOCAL_PORTS = {"ollama": 11434, "lmstudio": 1234}
PROBE_TIMEOUT_S = 0.5


async def autodetect(
    config: RouterConfig,
    *,
    env: Mapping[str, str] = os.environ,
    local_ports: Mapping[str, int] = LOCAL_PORTS,
) -> list[ProviderConfig]:
    """Providers to add, skipping names already configured. Probes 127.0.0.1 only, with short timeouts."""
    taken = {p.name for p in config.providers}
    found = [p for p in KEYED if p.name not in taken and env.get(p.key_env)]
    local: dict[str, ProviderConfig] = {}

    async def probe(name: str, port: int) -> None:
        base_url = f"http://127.0.0.1:{port}/v1"
        with trio.move_on_after(PROBE_TIMEOUT_S) as scope:  # in all: a port dripping bytes beats per-read timeouts
            try:
                async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
                    response = await client.get(f"{base_url}/models")
                models = [m.get("id", "") for m in response.json().get("data", []) if isinstance(m, dict)]
            except (httpx.HTTPError, ValueError, AttributeError):
                return
        if scope.cancelled_caught:
            return
        if response.status_code == 200:
            local[name] = ProviderConfig(name=name, kind="openai", base_url=base_url, model=next(iter(models), ""))

    async with trio.open_nursery() as nursery:
        for name, port in local_ports.items():
            if name not in taken:
                nursery.start_soon(probe, name, port)
    return found + [local[name] for name in local_ports if name in local]
