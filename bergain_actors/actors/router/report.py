"""``bergain-actors providers [SCENARIO] [--json]``: which providers a set would have, and why not the others.

Nothing is started: HTTP providers get one ``GET {base_url}/models`` (any HTTP answer means reachable), the local
provider a check that its model file exists, a scripted one a read of its script.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import msgspec
import trio

from bergain_actors.actors.router.breaker import State
from bergain_actors.actors.router.detect import autodetect
from bergain_actors.actors.router.providers import ConfigError, HTTPProvider, LocalProvider, ScriptedProvider, build
from bergain_actors.core.scenario import ProviderConfig, RouterConfig

SYMBOLS: dict[str, str] = {"closed": "●", "half_open": "◐", "open": "○"}


class ProviderStatus(msgspec.Struct, frozen=True):
    name: str
    kind: str
    source: Literal["configured", "auto"]
    state: State
    """``closed``: usable; ``open``: not usable now (``detail`` says why); ``half_open`` comes from a live router."""
    model: str = ""
    base_url: str = ""
    detail: str = ""


async def probe_providers(config: RouterConfig, *, base_dir: str | Path = ".") -> list[ProviderStatus]:
    """Every configured provider and, with ``auto``, every detected one, in failover order."""
    found = await autodetect(config) if config.auto else []
    taken = {p.name for p in config.providers}
    entries = [(p, "configured") for p in config.providers] + [(p, "auto") for p in found if p.name not in taken]
    statuses: list[ProviderStatus | None] = [None] * len(entries)

    async def probe(index: int, provider: ProviderConfig, source: Literal["configured", "auto"]) -> None:
        statuses[index] = await _probe(provider, source, Path(base_dir))

    async with trio.open_nursery() as nursery:
        for index, (provider, source) in enumerate(entries):
            nursery.start_soon(probe, index, provider, source)
    return [s for s in statuses if s is not None]


async def _probe(config: ProviderConfig, source: Literal["configured", "auto"], base_dir: Path) -> ProviderStatus:
    def status(state: State, detail: str, model: str = "", base_url: str = "") -> ProviderStatus:
        return ProviderStatus(config.name, config.kind, source, state, model or config.model, base_url, detail)

    try:
        provider = build(config, lambda value: Path(value) if Path(value).is_absolute() else base_dir / value)
    except ConfigError as exc:
        return status("open", str(exc), base_url=config.base_url)
    started = time.perf_counter()
    try:
        reason = await provider.check()
    finally:
        await provider.aclose()
    if isinstance(provider, LocalProvider):
        if reason:
            return status("open", reason, provider.model)
        size = provider.model_path.stat().st_size / 1e6
        return status("closed", f"{provider.model_path.name} ({size:.0f} MB), started with the set", provider.model)
    if isinstance(provider, ScriptedProvider):
        count = sum(len(answers) for answers in provider.answers.values())
        return status("closed", f"{count} scripted answers from {config.script}")
    assert isinstance(provider, HTTPProvider)
    if reason:
        return status("open", reason, provider.model, provider.base_url)
    took = (time.perf_counter() - started) * 1000
    return status("closed", f"reachable ({took:.0f} ms)", provider.model, provider.base_url)


def format_providers(statuses: list[ProviderStatus], as_json: bool) -> str:
    """A table with ● closed ◐ half-open ○ open (or JSON for scripts)."""
    if as_json:
        return json.dumps(msgspec.to_builtins(statuses), indent=2, ensure_ascii=False)
    if not statuses:
        return "no providers: set [router] providers or auto = true (the conductor plays without an LM)"
    columns = [
        (f"{SYMBOLS[s.state]} {s.name}", s.kind + (" (auto)" if s.source == "auto" else ""), s.model, s.base_url)
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in columns) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + "  " + status.detail
        for row, status in zip(columns, statuses, strict=True)
    ]
    usable = sum(s.state != "open" for s in statuses)
    lines.append(f"{usable} of {len(statuses)} usable    ● closed  ◐ half-open  ○ open")
    return "\n".join(line.rstrip() for line in lines)
