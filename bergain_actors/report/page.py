"""The set report: one self-contained HTML page of plots (matplotlib, Agg, PNGs inlined) from a set's series.

Each plot is a ``<figure id=...>``: energy, tempo (with device and Live outages), loudness, layers, directives,
latency, providers, holds.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # no display: the report is written, never shown

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bergain_actors.report.series import SetSeries

PHASE_COLORS = {
    "intro": "#dfe7f2",
    "build": "#f2ecd9",
    "peak": "#f4d9d9",
    "breakdown": "#e2f0dc",
    "peak2": "#f0d0e4",
    "outro": "#e6e6e6",
}
STATE_LEVEL = {"open": 0, "half_open": 1, "closed": 2}


def page(data: SetSeries, summary: list[str], title: str) -> str:
    """The whole HTML page."""
    figures = "\n".join(_figure(name, caption, draw, data) for name, caption, draw in _PLOTS)
    rows = "\n".join(
        f"<tr><td>{a.bar}</td><td>{html.escape(a.source)}</td><td>{html.escape(a.kind)}</td>"
        f"<td>{html.escape(a.text)}</td><td>{a.answer_bar if a.answer_bar >= 0 else ''}</td>"
        f"<td>{html.escape(a.answer or 'not answered')}</td></tr>"
        for a in data.answered
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
figure{{margin:1.5em 0}} img{{width:100%}}
pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere}}
table{{border-collapse:collapse;font-size:.9em}}
td,th{{border:1px solid #ddd;padding:.2em .5em;text-align:left}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<pre>{html.escape(chr(10).join(summary))}</pre>
{figures}
<h2 id="answers">Directives and steers, and what answered them</h2>
<table><tr><th>bar</th><th>from</th><th>kind</th><th>text</th><th>answered at</th><th>answer</th></tr>
{rows}
</table>
</body></html>
"""


def _figure(name: str, caption: str, draw: Callable[[Axes, SetSeries], None], data: SetSeries) -> str:
    fig, axes = plt.subplots(figsize=(11, 3.2 if name != "layers" else 4.2), dpi=90)
    try:
        draw(axes, data)
        axes.set_xlabel("bar")
        if data.bars:
            axes.set_xlim(data.bars[0], data.bars[-1] + 1)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return (
        f'<figure id="{name}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _phases(axes: Axes, data: SetSeries) -> None:
    end = data.bars[-1] + 1 if data.bars else 0
    for i, (start, phase) in enumerate(data.phases):
        stop = data.phases[i + 1][0] if i + 1 < len(data.phases) else end
        axes.axvspan(start, stop, color=PHASE_COLORS.get(phase, "#eeeeee"), lw=0)
        axes.text(start + 0.5, 1.0, phase, transform=axes.get_xaxis_transform(), va="top", fontsize=8)


def _energy(axes: Axes, data: SetSeries) -> None:
    _phases(axes, data)
    axes.step(data.bars, data.target, where="post", label="target", color="#444", ls="--")
    axes.step(data.bars, data.energy, where="post", label="played", color="#c0392b")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("energy")
    axes.legend(loc="lower right", fontsize=8)


def _tempo(axes: Axes, data: SetSeries) -> None:
    end = data.bars[-1] + 1 if data.bars else 0
    for what, start, back in data.outages:
        color = "#e74c3c" if what == "audio device" else "#9b59b6"
        axes.axvspan(start, back if back >= 0 else end, color=color, alpha=0.25, lw=0)
        axes.text(start, 0.02, f"{what} lost", transform=axes.get_xaxis_transform(), fontsize=7, color=color)
    if data.bars:
        axes.step(data.bars, data.bpm_by_bar, where="post", color="#2c3e50", label="tempo played")
        low, high = min(data.bpm_by_bar), max(data.bpm_by_bar)
        axes.set_ylim(low - max(2.0, (high - low) * 0.15), high + max(2.0, (high - low) * 0.15))
        axes.legend(loc="upper right", fontsize=8)
    axes.set_ylabel("BPM")


def _loudness(axes: Axes, data: SetSeries) -> None:
    axes.plot(data.bars, data.rms_db, label="RMS", color="#2c3e50")
    axes.plot(data.bars, data.peak_db, label="peak", color="#95a5a6", lw=0.8)
    axes.set_ylabel("dBFS")
    axes.legend(loc="lower right", fontsize=8)


def _layers(axes: Axes, data: SetSeries) -> None:
    roles = list(data.layers)
    if not roles or not data.bars:
        axes.text(0.5, 0.5, "no layers", ha="center", transform=axes.transAxes)
        return
    grid = [data.layers[r] for r in roles]
    extent = (data.bars[0], data.bars[-1] + 1, len(roles) - 0.5, -0.5)
    image = axes.imshow(grid, aspect="auto", interpolation="nearest", cmap="magma", extent=extent, vmin=0, vmax=1)
    axes.set_yticks(range(len(roles)), roles)
    axes.figure.colorbar(image, ax=axes, label="gain", pad=0.01)


def _directives(axes: Axes, data: SetSeries) -> None:
    _phases(axes, data)
    kinds = sorted({a.kind for a in data.answered})
    for a in data.answered:
        y = kinds.index(a.kind)
        color = "#8e44ad" if a.source == "performer" else "#2980b9"
        axes.plot([a.bar], [y], "o", color=color)
        if a.answer_bar >= 0:
            axes.plot([a.bar, a.answer_bar], [y, y], color=color, lw=1)
            axes.plot([a.answer_bar], [y], "s" if a.answer else "x", color="#27ae60")
    axes.set_yticks(range(len(kinds)), kinds)
    axes.set_ylim(-0.5, max(len(kinds), 1) - 0.5)
    axes.set_title("directives (blue) and steers (purple) → answered (green)", fontsize=9)


def _latency(axes: Axes, data: SetSeries) -> None:
    answered = [x for x in data.latencies if x.ok]
    failed = [x for x in data.latencies if not x.ok]
    for provider in sorted({x.provider for x in answered}):
        mine = [x for x in answered if x.provider == provider]
        axes.plot([x.bar for x in mine], [x.latency_ms for x in mine], "o", ms=4, label=provider)
    if failed:
        axes.plot([x.bar for x in failed], [0] * len(failed), "x", color="#c0392b", label="failed")
    if not answered:  # no latency to scale the axis by: milliseconds from 0, not matplotlib's ±0.04 around 0
        axes.set_ylim(-50, 1000)
        said = "no LM requests in this set" if not data.latencies else "no LM request was answered"
        axes.text(0.5, 0.5, said, ha="center", transform=axes.transAxes)
    else:
        axes.set_ylim(bottom=0)
    if data.latencies:
        axes.legend(loc="upper right", fontsize=8)
    axes.set_ylabel("LM latency (ms)")


def _providers(axes: Axes, data: SetSeries) -> None:
    end = data.bars[-1] + 1 if data.bars else 0
    names = sorted({p.provider for p in data.providers})
    for i, name in enumerate(names):
        changes = [p for p in data.providers if p.provider == name]
        xs = [p.bar for p in changes] + [end]
        ys = [i * 3 + STATE_LEVEL.get(p.state, 0) for p in changes]
        axes.step(xs, [*ys, ys[-1]], where="post", label=name)
    axes.set_yticks(
        [i * 3 + level for i in range(len(names)) for level in (0, 1, 2)],
        [f"{n} {s}" for n in names for s in ("○ open", "◐ half", "● closed")],
        fontsize=7,
    )
    if not names:
        axes.text(0.5, 0.5, "no LM providers in this set", ha="center", transform=axes.transAxes)


def _holds(axes: Axes, data: SetSeries) -> None:
    held = [bar for bar, h in zip(data.bars, data.held, strict=True) if h]
    axes.vlines(held, 0, 1, color="#e67e22", label=f"held ({len(held)})")
    for bar, count in data.underflows:
        axes.vlines([bar], 0, min(1.0, 0.2 + count / 10), color="#c0392b")
    axes.plot([], [], color="#c0392b", label=f"underflows ({sum(c for _, c in data.underflows)})")
    axes.set_yticks([])
    axes.legend(loc="upper right", fontsize=8)


_PLOTS: tuple[tuple[str, str, Callable[[Axes, SetSeries], None]], ...] = (
    ("energy", "Target vs. played energy per bar, over the set's phases", _energy),
    ("tempo", "Tempo played per bar, with the times the audio device or Ableton Live was lost", _tempo),
    ("loudness", "Loudness per bar (RMS and peak, dBFS)", _loudness),
    ("layers", "Layers over time: each role's gain per bar", _layers),
    ("directives", "Directives and steers, and when they were answered", _directives),
    ("latency", "LM latency per request", _latency),
    ("providers", "Provider circuit states over time", _providers),
    ("holds", "Holds and underflows", _holds),
)
FIGURES = tuple(name for name, _, _ in _PLOTS)
"""The id of each plot's ``<figure>``, in page order."""
