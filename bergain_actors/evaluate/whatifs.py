"""What-if over many logged sets: each played again with a swapped brain or critic (``whatif.what_if``), both sets
measured as the music benchmark measures them, and the changes summarized across the sets (mean and 95 % interval).
Each what-if lands in its own folder with its log, WAV and ``result.json``; one that is there is not played again."""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import msgspec

from bergain_actors.assess import SetReport
from bergain_actors.evaluate.grid import FIGURES, report_figures
from bergain_actors.evaluate.spread import Spread, spread

WHATIF = "whatif"
RESULT = "result.json"
"""As for a grid's set (``run.RESULT``): its presence marks the what-if done."""
MUSIC = tuple(FIGURES)[:13]
"""The music benchmark's figures (the rest of FIGURES count decisions, which a what-if compares bar by bar)."""


class WhatIfResult(msgspec.Struct, frozen=True):
    log: str
    """The original log, as given."""
    swaps: dict[str, str]
    first_divergent_bar: int
    differing_bars: int
    bars: int
    not_decided: tuple[str, ...]
    original: SetReport
    what_if: SetReport
    new_log: str
    """The what-if's log and WAV, relative to the evaluation's folder."""
    new_wav: str


def folder_of(log: Path, swaps: dict[str, str]) -> str:
    """One folder per (log, swaps): the log's name and a short hash of its full path and the swaps."""
    key = f"{log.resolve()}|{sorted(swaps.items())}".encode()
    return f"{WHATIF}/{log.stem}-{hashlib.sha256(key).hexdigest()[:8]}"


def done(out: Path, log: Path, swaps: dict[str, str]) -> WhatIfResult | None:
    from bergain_actors.evaluate.run import read_result

    try:
        result = read_result((out / folder_of(log, swaps) / RESULT).read_bytes(), WhatIfResult)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    return result if (out / result.new_log).is_file() and (out / result.new_wav).is_file() else None


def play_whatif(log: str, swaps: dict[str, str], out: str) -> bytes:
    """Play one logged set again with ``swaps``; measure both. The original is measured from its WAV beside the
    log when there is one of the same name, else from a re-render of its log (exact either way)."""
    import soundfile as sf
    import structlog

    from bergain_actors import replay
    from bergain_actors.assess import assess
    from bergain_actors.core.log import LogReader
    from bergain_actors.evaluate.run import keep_result
    from bergain_actors.whatif import what_if

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    warn = structlog.get_logger("evaluate").warning
    root, original = Path(out), Path(log)
    folder = root / folder_of(original, swaps)
    shutil.rmtree(folder, ignore_errors=True)
    new_log, new_wav, diff = what_if(original, swaps, folder / "set", warn)
    wav = original.with_suffix(".wav")
    if not wav.is_file():
        wav = folder / "original.wav"
        replay.render(original, wav, warn)

    def measured(log_path: Path, wav_path: Path) -> SetReport:
        audio, rate = sf.read(wav_path, dtype="float32", always_2d=True)
        scenario = replay.scenario_of(LogReader(log_path))
        return assess(list(LogReader(log_path)), audio, rate, scenario.conductor.phrase_bars)

    result = WhatIfResult(
        log=log,
        swaps=swaps,
        first_divergent_bar=diff.first_divergent_bar,
        differing_bars=diff.differing_bars,
        bars=max(diff.bars_original, diff.bars_what_if),
        not_decided=tuple(diff.not_decided()),
        original=measured(original, wav),
        what_if=measured(new_log, new_wav),
        new_log=str(new_log.relative_to(root)),
        new_wav=str(new_wav.relative_to(root)),
    )
    return keep_result(folder, result)


class WhatIfSummary(msgspec.Struct, frozen=True):
    sets: int
    diverged: int
    differing_bars_pct: Spread
    first_divergent_bar: Spread
    """Over the sets that diverged."""
    not_decided: int
    """Sets where a swapped-in kind did not decide every bar."""
    original: dict[str, Spread]
    what_if: dict[str, Spread]
    change: dict[str, Spread]
    """What-if minus original, set by set."""


def summarize(results: list[WhatIfResult]) -> WhatIfSummary:
    before = [report_figures(r.original) for r in results]
    after = [report_figures(r.what_if) for r in results]
    return WhatIfSummary(
        sets=len(results),
        diverged=sum(1 for r in results if r.first_divergent_bar >= 0),
        differing_bars_pct=spread([100 * r.differing_bars / r.bars if r.bars else math.nan for r in results]),
        first_divergent_bar=spread([r.first_divergent_bar for r in results if r.first_divergent_bar >= 0]),
        not_decided=sum(1 for r in results if r.not_decided),
        original={k: spread([f[k] for f in before]) for k in MUSIC},
        what_if={k: spread([f[k] for f in after]) for k in MUSIC},
        change={k: spread([a[k] - b[k] for a, b in zip(after, before, strict=True)]) for k in MUSIC},
    )
