"""MCP tool-call round trips beside a playing set, and what they cost the audio.

    .venv/bin/python bench/bench_mcp.py [--seconds 20] [--rate 10] [--rounds 2]

The set plays in its own process on a real JACK server (dummy driver, clock-paced, no sound card), so underflows
are counted where they happen, in the device's output callback; without jackd it plays on a clock-paced sink and
the table says underflows were not measured. This process is the MCP client (the official SDK's), as Claude
Desktop would be:

- ``idle``: ``bergain-actors mcp SCENARIO`` with no calls but the final stop (the set's own baseline);
- ``stdio``: the same server, sent ``--rate`` calls a second: ``status`` (read) and, every fifth call, ``hold`` or
  ``resume`` (a command: an event in the log, answered with its seq);
- ``http``: ``bergain-actors serve SCENARIO`` with the same calls to ``/mcp`` (streamable HTTP).

Every run ends with ``stop now`` through MCP; the figures for the set (bars, underflows and the silence they left,
late bars, engine holds) are read from its log afterwards. An underflow with no silence is the device's flag
(``xrun flags``: PortAudio's output-underflow flag, on JACK the server's notice of an xrun anywhere) while audio was
still queued; the server's own log (real time where allowed, as ``jack_server`` starts it) says whose: its own cycle
late (``jackd: own xruns``, not our audio) or our client not done in time (``jackd: PortAudio late``). Round trips
are wall-clock, from the call to its answer in this process. The three runs are interleaved ``--rounds`` times, so
a busy machine weighs on each alike; the load is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx2
import trio
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from rich.console import Console
from rich.table import Table

from bergain_actors.actors.streamer.jack_server import JackServer
from bergain_actors.core.log import read_all
from bergain_actors.core.summary import Summary

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("bergain-actors"))
TIMES = ("status", "command")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def start_jack() -> JackServer | None:
    """A JACK dummy server at 44.1 kHz, real time where allowed (none without jackd)."""
    if not shutil.which("jackd"):
        return None
    server = JackServer(f"bench-mcp-{uuid.uuid4().hex[:8]}", 44100)
    server.start(timeout=30)
    return server


def scenario_file(folder: Path, audio: bool) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f'name = "bench-mcp"\nseed = 7\nbpm = 128\nbars = 2000\nsample_pack = "{ROOT / "sample_pack"}"\n'
        '[conductor]\nkind = "autopilot"\nphrase_bars = 16\n[critic]\nkind = "arc"\nevery_bars = 8\n'
        f"[streamer]\noutput = {'true' if audio else 'false'}\n"
    )
    return path


async def drive(client: Client, seconds: float, rate: int) -> dict[str, list[float]]:
    """``rate`` calls a second for ``seconds``: four ``status`` for each ``hold``/``resume``."""
    times: dict[str, list[float]] = {kind: [] for kind in TIMES}
    if not rate:
        await trio.sleep(seconds)  # the idle run: the set plays this long with no calls
        return times
    start = trio.current_time()
    sent = 0
    while trio.current_time() - start < seconds:
        await trio.sleep_until(start + sent / rate)
        began = time.perf_counter()
        if sent % 5 == 4:
            answer = await client.call_tool("hold" if (sent // 5) % 2 == 0 else "resume", {})
            times["command"].append((time.perf_counter() - began) * 1000)
        else:
            answer = await client.call_tool("status", {})
            times["status"].append((time.perf_counter() - began) * 1000)
        if answer.is_error:
            raise SystemExit(f"the MCP call failed: {answer.content[0].text}")
        sent += 1
    return times


async def until_playing(client: Client) -> None:
    while not (await client.call_tool("events", {"types": ["BarPlayed"], "wait_s": 10})).structured_content["events"]:
        pass


async def over_stdio(scenario: Path, out: Path, env: dict[str, str], seconds: float, rate: int) -> dict:
    params = StdioServerParameters(command=CLI, args=["mcp", str(scenario), "--no-report", "--out", str(out)], env=env)
    with (out / "server.err").open("w") as errlog, trio.fail_after(seconds + 120):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            await until_playing(client)
            times = await drive(client, seconds, rate)
            await client.call_tool("stop", {"now": True})
            while not (await client.call_tool("events", {"types": ["SetEnded"], "wait_s": 10})).structured_content[
                "events"
            ]:
                pass
    return times


async def over_http(scenario: Path, out: Path, env: dict[str, str], seconds: float, rate: int) -> dict:
    argv = [CLI, "serve", str(scenario), "--port", "0", "--out", str(out)]
    server = await trio.lowlevel.open_process(
        argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        with trio.fail_after(seconds + 120):
            url = await announced_url(server)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain, server.stderr)
                async with Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient())) as client:
                    await until_playing(client)
                    times = await drive(client, seconds, rate)
                    await client.call_tool("stop", {"now": True})
                await server.wait()
    finally:
        if server.returncode is None:
            server.kill()
    return times


async def announced_url(server: trio.Process) -> str:
    """The URL ``serve`` prints once it listens."""
    seen = b""
    while not (match := re.search(rb"HTTP API on (http://\S+)", seen)):
        chunk = await server.stderr.receive_some(4096)
        if not chunk:
            raise SystemExit(f"serve did not start: {seen.decode(errors='replace')[-500:]}")
        seen += chunk
    return match.group(1).decode()


async def drain(stream: trio.abc.ReceiveStream) -> None:
    while await stream.receive_some(1 << 16):
        pass


def of_the_set(out: Path) -> dict[str, float]:
    (log,) = out.glob("*.bgnlog")
    summary = Summary()
    for event in read_all(log)[1]:
        summary.add(event)
    return {
        "bars": summary.bars_played,
        "underflows": summary.underflows,
        "of which xrun flags": summary.xruns,
        "silence ms": round(summary.silent_ms),
        "late bars": summary.late_bars,
        "engine holds": summary.holds,
        "commands logged": summary.commands,
    }


def one_run(label: str, seconds: float, rate: int, jack: JackServer | None) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-mcp-{label}-"))
    scenario = scenario_file(out, jack is not None)
    serve = over_http if label == "http" else over_stdio
    env = {key: jack.env[key] for key in ("JACK_NO_START_SERVER", "JACK_DEFAULT_SERVER")} if jack else {}
    before = jack.xruns() if jack else Counter()
    times = trio.run(serve, scenario, out, env, seconds, 0 if label == "idle" else rate)
    figures = {**times, **of_the_set(out)}
    xruns = (jack.xruns() if jack else Counter()) - before
    figures["jackd: own xruns"] = xruns["server"]
    figures["jackd: PortAudio late right after them"] = xruns["client PortAudio after server"]
    figures["jackd: PortAudio late (ours)"] = xruns["client PortAudio"]
    shutil.rmtree(out, ignore_errors=True)
    return figures


def table_of(rounds: list[dict[str, dict]]) -> dict[str, dict[str, float]]:
    """Each run's figures over the rounds: round trips pooled, the set's counts summed."""
    columns = {}
    for label in rounds[0]:
        runs = [one[label] for one in rounds]
        status = [t for run in runs for t in run["status"]]
        command = [t for run in runs for t in run["command"]]
        columns[label] = {
            "calls": len(status) + len(command),
            "status p50": statistics.median(status) if status else float("nan"),
            "status p99": percentile(status, 0.99),
            "command p50": statistics.median(command) if command else float("nan"),
            "command p99": percentile(command, 0.99),
            **{key: sum(run[key] for run in runs) for key in runs[0] if key not in TIMES},
        }
    return columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=10, help="MCP calls a second")
    parser.add_argument("--rounds", type=int, default=2, help="times the three runs are interleaved")
    args = parser.parse_args()
    jack = start_jack()
    labels = ("idle", "stdio", "http")
    try:
        rounds = [
            {label: one_run(label, args.seconds, args.rate, jack) for label in labels} for _ in range(args.rounds)
        ]
    finally:
        if jack is not None:
            jack.close()
    runs = table_of(rounds)
    where = f"a JACK dummy server ({jack.how})" if jack else "a clock-paced sink (no jackd: underflows not measured)"
    load = os.getloadavg()
    table = Table(
        title=f"MCP calls beside a set playing on {where}: {args.rate} calls/s for {args.seconds:g} s, "
        f"{args.rounds} rounds "
        f"(load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} CPUs)"
    )
    table.add_column("measure")
    for label in runs:
        table.add_column(label, justify="right")
    for key in next(iter(runs.values())):
        unit = " ms" if "p50" in key or "p99" in key else ""
        table.add_row(key + unit, *(f"{run[key]:.2f}" if unit else f"{run[key]:.0f}" for run in runs.values()))
    Console().print(table)


if __name__ == "__main__":
    main()
