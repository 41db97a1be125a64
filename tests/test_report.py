"""The set report: its series come from the log (checked against the events one by one) and the page holds
every plot."""

from __future__ import annotations

import math
import re
from pathlib import Path

from bergain_actors.cli import main
from bergain_actors.control import parse
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.performance import perform, set_paths
from bergain_actors.report import series, write_report
from bergain_actors.report.page import FIGURES
from tests.conftest import ROOT


async def a_set(scenario_factory, tmp_path):
    """An 8-minute set (256 bars at 128 BPM): the phrase brain on a scripted LM, a steer and an energy change typed
    at the start."""
    script = str(ROOT / "scenarios" / "phrase_answers.json")
    scenario = scenario_factory(
        bars=256,
        conductor={"kind": "phrase"},
        router={"providers": [{"name": "scripted", "kind": "scripted", "script": script}]},
    )
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="report")

    async def person(desk) -> None:
        desk.submit("darker")
        desk.submit("energy +")

    await perform(scenario, "", log_path=log_path, wav_path=wav_path, controls=person)
    return log_path


async def test_series_match_the_log(scenario_factory, tmp_path):
    log_path = await a_set(scenario_factory, tmp_path)
    _, events, _ = read_all(log_path)
    data = series(events)
    plans = {e.seq: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    played = [e for e in events if isinstance(e, ev.BarPlayed)]
    assert data.bars == [e.bar for e in played] == list(range(256))
    assert data.target == [plans[e.plan_seq].target for e in played]
    assert data.energy == [plans[e.plan_seq].energy for e in played]
    assert data.rms_db == [round(20 * math.log10(e.rms), 2) for e in played]
    for role, gains in data.layers.items():
        expected = [next((x.gain for x in plans[e.plan_seq].layers if x.role == role), 0.0) for e in played]
        assert gains == expected, role
    assert set(data.layers) == {x.role for e in played for x in plans[e.plan_seq].layers}
    changes = [(e.bar, e.phase) for e in events if isinstance(e, ev.PhaseChanged)]
    assert data.phases == changes
    directives = [e for e in events if isinstance(e, ev.Directive)]
    steers = [e for e in events if isinstance(e, ev.Steer)]
    assert len(data.answered) == len(directives) + len(steers) == len(directives) + 2
    acted = {e.cause: e for e in events if isinstance(e, ev.DirectiveActed | ev.SteerActed)}
    answers = sorted(a.answer for a in data.answered if a.answer)
    assert answers == sorted(e.action for e in acted.values())
    darker = next(a for a in data.answered if a.source == "performer" and a.text == "darker")
    answer = next(e for e in acted.values() if isinstance(e, ev.SteerActed) and e.intent == "darker")
    assert (darker.kind, darker.answer_bar, darker.answer) == ("darker", answer.bar, answer.action)
    answers = [e for e in events if isinstance(e, ev.LMResponse | ev.LMFailed)]
    assert any(isinstance(e, ev.LMResponse) for e in answers)
    assert [(x.request_id, x.provider, x.latency_ms, x.ok) for x in data.latencies] == [
        (e.request_id, e.provider, e.latency_ms, True)
        if isinstance(e, ev.LMResponse)
        else (e.request_id, "", 0.0, False)
        for e in answers
    ]
    assert [(p.provider, p.state) for p in data.providers] == [("scripted", "closed")]


async def test_report_page_has_every_plot(scenario_factory, tmp_path):
    log_path = await a_set(scenario_factory, tmp_path)
    page = write_report(log_path, tmp_path / "out")
    assert page == tmp_path / "out" / f"{log_path.stem}.html"
    text = page.read_text()
    found = re.findall(
        r'<figure id="(\w+)"><img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]{2000,})">', text
    )
    assert tuple(name for name, _ in found) == FIGURES
    assert "darker" in text and "set          autopilot — 256/256 bars at 128 BPM (8.0 min)" in text


def test_report_command(scenario_factory, tmp_path, capsys):
    scenario = scenario_factory(bars=8)
    toml = tmp_path / "s.toml"
    toml.write_text(
        f'name = "tiny"\nbars = 8\nsample_pack = "{ROOT / "sample_pack"}"\nlog_dir = "{tmp_path}"\n'
        '[conductor]\nkind = "autopilot"\n'
    )
    assert scenario.bars == 8
    assert main(["run", str(toml), "--fast", "--quiet"]) == 0
    out = capsys.readouterr().out
    report_line = next(line for line in out.splitlines() if line.startswith("report "))
    log_line = next(line for line in out.splitlines() if line.startswith("log "))
    log = log_line.split(None, 1)[1]
    assert report_line.split(None, 1)[1] == log.removesuffix(".bgnlog") + ".html"
    assert main(["report", log, "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / (log.rsplit("/", 1)[1].removesuffix(".bgnlog") + ".html")).exists()
    assert main(["report", str(tmp_path / "missing.bgnlog")]) == 2
    assert "missing.bgnlog: no such log file" in capsys.readouterr().err
    whole = Path(log).read_bytes()
    cut = tmp_path / "cut.bgnlog"
    cut.write_bytes(whole[: len(whole) * 2 // 3])  # a set killed mid-record
    assert main(["report", str(cut)]) == 4  # before: exit 0, the damage said only inside the page
    err = capsys.readouterr().err
    assert f"{cut}: torn tail at byte" in err and "reported " in err and "of 8 bars (partial:" in err
    assert "torn tail" in (tmp_path / "cut.html").read_text()  # the page is written, and says so too
    assert main(["report", str(cut), "--allow-partial"]) == 0
    assert parse("darker") == ev.Steer(intent="say", text="darker")


def test_series_count_holds_underflows_and_provider_states():
    from bergain_actors.music.plan import BarPlan, Layer

    plan = BarPlan(bar=0, bpm=128, layers=(Layer(role="kick", sample="k.wav", gain=0.9),), phase="intro", energy=0.3)
    events = [
        ev.SetStarted(name="s", seed=1, bpm=128, beats_per_bar=4, total_bars=3, sample_rate=44100, lookahead_bars=2),
        ev.ProviderHealth(states={"a": "closed", "b": "closed"}, order=("a", "b")),
        ev.BarPlanned(plan=plan, seq=3),
        ev.BarPlayed(plan_seq=3, bar=0, rms=0.1, peak=0.5),
        ev.BarHeld(plan_seq=3, bar=1),
        ev.BarPlayed(plan_seq=3, bar=1, held=True, rms=0.1, peak=0.5),
        ev.ProviderStateChanged(provider="a", old="closed", new="open", reason="3 failures"),
        ev.AudioUnderflow(bar=1, count=2),
        ev.LMFailed(request_id="phrase:16", reason="no provider"),
        ev.BarPlayed(plan_seq=3, bar=2, rms=0.0, peak=0.0),
    ]
    data = series(events)
    assert data.held == [False, True, False]
    assert data.underflows == [(1, 2)]
    assert data.rms_db == [-20.0, -20.0, -90.0]
    assert data.layers == {"kick": [0.9, 0.9, 0.9]}
    assert [(p.bar, p.provider, p.state) for p in data.providers] == [
        (0, "a", "closed"),
        (0, "b", "closed"),
        (2, "a", "open"),
    ]
    assert [(x.bar, x.ok) for x in data.latencies] == [(2, False)]


def test_tempo_and_outages_are_plotted_and_no_answer_keeps_a_latency_axis_in_ms():
    import matplotlib.pyplot as plt

    from bergain_actors.music.plan import BarPlan
    from bergain_actors.report.page import _latency, page

    events = [
        ev.SetStarted(name="s", seed=1, bpm=128, beats_per_bar=4, total_bars=4, sample_rate=44100, lookahead_bars=2),
        ev.BarPlanned(plan=BarPlan(bar=0, bpm=128), seq=2),
        ev.BarPlayed(plan_seq=2, bar=0),
        ev.BarPlanned(plan=BarPlan(bar=1, bpm=130), seq=4),
        ev.AudioDeviceChanged(status="lost", device="jack", reason="server gone", bar=1),
        ev.AbletonStatus(state="lost", bar=1),
        ev.BarPlayed(plan_seq=4, bar=1),
        ev.AudioDeviceChanged(status="resumed", device="jack", bar=2),
        ev.BarPlayed(plan_seq=4, bar=2, held=True),
        ev.LMFailed(request_id="phrase:0", reason="no provider"),
    ]
    data = series(events)
    assert data.bpm_by_bar == [128, 130, 130]
    assert data.outages == [("audio device", 1, 2), ("Ableton Live", 1, -1)]
    figure, axes = plt.subplots()
    try:
        _latency(axes, data)
        low, high = axes.get_ylim()
    finally:
        plt.close(figure)
    assert high - low >= 100  # milliseconds, not matplotlib's ±0.04 around a lone zero
    text = page(data, ["events       " + ", ".join(f"Kind{i} {i}" for i in range(200))], "s")
    assert "white-space:pre-wrap" in text and '<figure id="tempo">' in text
