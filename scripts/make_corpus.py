"""Regenerate the replay corpus (tests/corpus/): play each small set, keep its log, and record the checksum of the
WAV it played in manifest.json. Run it deliberately, when the music legitimately changed (see tests/corpus/README.md):

    .venv/bin/python scripts/make_corpus.py [NAME ...]
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bergain_actors.control.desk import Desk  # noqa: E402
from bergain_actors.core import events as ev  # noqa: E402
from bergain_actors.core import scenario as scenarios  # noqa: E402
from bergain_actors.core.log import read_all  # noqa: E402
from bergain_actors.performance import perform  # noqa: E402
from tests import corpus_kinds  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
SCENARIOS = ROOT / "scenarios"
Person = Callable[[Desk], Awaitable[None]]


def load(name: str, bars: int, **tables: dict) -> tuple[scenarios.Scenario, str]:
    scenario, text = scenarios.load(SCENARIOS / name)
    changes: dict = {"bars": bars, "minutes": None}
    for table, values in tables.items():
        changes[table] = msgspec.structs.replace(getattr(scenario, table), **values)
    return scenarios.replace(scenario, **changes), text


def at_bar(bar: int, *lines: str) -> tuple[Person, Callable[[ev.Event], None]]:
    """A person who types ``lines`` once bar ``bar`` has been played."""
    reached = trio.Event()

    def watch(event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed) and event.bar >= bar:
            reached.set()

    async def person(desk: Desk) -> None:
        await reached.wait()
        for line in lines:
            desk.submit(line)

    return person, watch


def failover_script(folder: Path) -> dict:
    """The phrase brain's first provider answers once and is then exhausted: the router fails over."""
    script = folder / "one_answer.json"
    script.write_text(json.dumps({"phrase": [{"move": 1, "energy": "up"}]}))
    first = {"name": "flaky", "kind": "scripted", "script": str(script), "cycle": False}
    second = {"name": "scripted", "kind": "scripted", "script": str(SCENARIOS / "phrase_answers.json")}
    return {"providers": [first, second]}


def sets(folder: Path) -> dict[str, tuple[scenarios.Scenario, str, Person | None, Callable | None]]:
    swap = at_bar(6, "swap critic none", "swap conductor hold")
    stop = at_bar(4, "stop")
    router = msgspec.convert(failover_script(folder), scenarios.RouterConfig)
    phrase, phrase_text = load("phrase_scripted.toml", 32)
    return {
        "autopilot": (*load("autopilot.toml", 16), None, None),
        "phrase-scripted": (phrase, phrase_text, None, None),
        "rlm-scripted": (*load("rlm_scripted.toml", 32, conductor={"sandbox_timeout_s": 1.0}), None, None),
        "swap": (*load("autopilot.toml", 24), *swap),
        "failover": (scenarios.replace(phrase, router=router), phrase_text, None, None),
        "crash-restart": (*load("autopilot.toml", 16, critic={"kind": "flaky", "every_bars": 4}), None, None),
        "stopped": (*load("autopilot.toml", 64), *stop),
    }


def make(name: str, scenario: scenarios.Scenario, text: str, person: Person | None, watch: Callable | None) -> dict:
    log = CORPUS / f"{name}.bgnlog"
    log.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "set.wav"
        trio.run(lambda: perform(scenario, text, log_path=log, wav_path=wav, controls=person, on_event=watch))
        digest = hashlib.sha256(wav.read_bytes()).hexdigest()
    _, events, problem = read_all(log)
    assert problem is None, problem
    played = sum(1 for e in events if isinstance(e, ev.BarPlayed))
    return {"events": len(events), "bars": played, "wav_sha256": digest}


def main(names: list[str]) -> None:
    corpus_kinds.register()
    manifest_path = CORPUS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (scenario, text, person, watch) in sets(Path(tmp)).items():
            if names and name not in names:
                continue
            manifest[name] = make(name, scenario, text, person, watch)
            print(f"{name:16} {manifest[name]['bars']:3} bars  {manifest[name]['events']:4} events")
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
