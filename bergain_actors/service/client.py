"""``bergain-actors clip`` and ``ask``: through a running set's API when one answers, else on the router alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio

from bergain_actors.actors.router.local import START_TIMEOUT_S
from bergain_actors.core.scenario import Scenario
from bergain_actors.outputs import check_output
from bergain_actors.service import chat
from bergain_actors.service.clips import make_clip
from bergain_actors.service.session import router_session


class ApiError(Exception):
    """The API answered with an error; the message is its own."""


async def post(url: str, path: str, body: dict[str, Any], token: str | None, timeout: float = 120.0) -> dict:
    """POST to a running API; raises ``httpx.ConnectError`` when nothing listens there."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        answer = await client.post(path, json=body, headers=headers)
    data = answer.json()
    if answer.status_code >= 400:
        tried = "; ".join(data.get("attempts", ()))
        detail = f" ({tried})" if tried else ""
        raise ApiError(f"{url}{path}: {answer.status_code} {data.get('error', data)}{detail}{_hint(answer)}")
    return data


async def playing(url: str, token: str | None) -> bool:
    """Whether the API at ``url`` has a set playing (``serve`` without one has only its router)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answer = await client.get("/health", headers=headers)
    if answer.status_code >= 400:
        raise ApiError(f"{url}/health: {answer.status_code} {answer.json().get('error', '')}{_hint(answer)}")
    return bool(answer.json()["playing"])


def _hint(answer: httpx.Response) -> str:
    """What to do about a refused token: the commands take it from a variable named by ``--token-env``."""
    return "; give the API's token with --token-env NAME" if answer.status_code == 401 else ""


async def clip_alone(scenario: Scenario, prompt: str) -> dict[str, Any]:
    """A clip from the scenario's providers with no set playing (its notes only)."""
    async with router_session(scenario) as session:
        made = await make_clip(session, prompt, target="none", timeout=patience(scenario))
    return msgspec.to_builtins(made)


async def ask_alone(scenario: Scenario, question: str) -> dict[str, Any]:
    """An answer with no set playing: the facts of the scenario's providers only (``chat.converse``)."""
    async with router_session(scenario) as session:
        made = await chat.converse(session, chat.Memory(), question, "cli")
    return msgspec.to_builtins(made)


PATIENT_S = 120.0
"""A person waiting at the command line waits longer than a bar: a loaded machine boots the model slowly."""


def patience(scenario: Scenario) -> float:
    """How long a command-line clip waits for the LM: the embedded model's boot budget where it may have to boot,
    then each provider's own deadline in turn (their failures, not ours, end the wait)."""
    providers = scenario.router.providers
    boot = START_TIMEOUT_S if any(p.kind == "local" for p in providers) else 0.0
    return max(PATIENT_S, boot + sum(p.timeout_s for p in providers))


async def intents_alone(scenario: Scenario, text: str) -> dict[str, Any]:
    """What ``text`` asks the music to do (``chat.read_intents``) on the scenario's providers, the embedded model by
    default; no model is started when code finds nothing for it to choose among."""
    from bergain_actors.music import reading

    if not reading.candidates(text)[1]:
        return await chat.read_intents(None, text)
    patient = [msgspec.structs.replace(p, timeout_s=max(p.timeout_s, PATIENT_S)) for p in scenario.router.providers]
    scenario = msgspec.structs.replace(scenario, router=msgspec.structs.replace(scenario.router, providers=patient))
    async with router_session(scenario) as session:
        return await chat.read_intents(session, text, timeout=300)


def run(fn: Any, *args: Any) -> Any:
    return trio.run(fn, *args)


def midi_target(out: Path | None, prompt: str, force: bool) -> Path:
    """Where a clip's MIDI file goes: ``out`` or ``clip-<words>.mid``; never over an existing file unless forced."""
    if out is None:
        words = "-".join("".join(c for c in w if c.isalnum()) for w in prompt.lower().split()[:6]).strip("-")
        out = Path(f"clip-{words or 'prompt'}.mid")
    check_output(out, "--midi", force=force)
    return out
