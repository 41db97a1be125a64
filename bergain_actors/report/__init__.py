"""``bergain-actors report``: a set's log as an HTML page of plots."""

from __future__ import annotations

from pathlib import Path

from bergain_actors.core.log import LogReader
from bergain_actors.core.summary import Summary
from bergain_actors.outputs import check_output, write_atomically
from bergain_actors.report.series import SetSeries, series

__all__ = ["SetSeries", "series", "write_report"]


def write_report(log_path: Path, out_dir: Path | None = None) -> Path:
    """Write ``<log stem>.html`` into ``out_dir`` (default: beside the log) and return its path."""
    from bergain_actors.report.page import page

    reader = LogReader(log_path)
    events = list(reader)
    summary = Summary()
    for event in events:
        summary.add(event)
    folder = out_dir if out_dir is not None else log_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{log_path.stem}.html"
    lines = summary.lines()
    if reader.problem is not None:
        lines.append(f"warning: {reader.problem.describe(log_path)}")
    check_output(target, "report", force=True, inputs=(log_path,))
    html = page(series(events), lines, f"{summary.name or log_path.stem}: set report").encode()
    write_atomically(target, lambda out: out.write(html))
    return target
