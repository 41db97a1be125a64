"""Replay says OK only when it is: damaged or cut logs exit 4 with "N of M", bars carry audio checksums, outputs
are told from inputs by type and emitting actor, the set context comes from the log, --wav never clobbers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
import pytest
import trio

from bergain_actors import replay
from bergain_actors.actors.conductor import autopilot
from bergain_actors.cli import main
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.actor import Actor, ActorContext, SetContext
from bergain_actors.core.log import LogReader, LogWriter, read_all
from bergain_actors.music import render as render_module
from bergain_actors.performance import perform
from tests.brain_support import SCENARIOS

Events = list[ev.Event]
CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def phrase_log(tmp_path_factory) -> Path:
    """A whole 32-bar set on the phrase brain with scripted LM answers (so it logs LMResponses)."""
    out = tmp_path_factory.mktemp("phrase")
    argv = ["run", str(SCENARIOS / "phrase_scripted.toml"), "--fast", "--no-audio", "--quiet", "--bars", "32"]
    assert main([*argv, "--out", str(out)]) == 0
    (log,) = out.glob("*.bgnlog")
    return log


def rewrite(src: Path, dst: Path, change: Callable[[Events], Events]) -> Path:
    """A copy of the log ``src`` whose events went through ``change`` (a well-framed log: only the content lies)."""
    header, events, _ = read_all(src)
    writer = LogWriter.create(dst, header, "never")
    for event in change(events):
        writer.append(event)
    writer.close()
    return dst


def first(events: Events, kind: type[ev.Event], after: int = 0) -> int:
    return next(i for i, e in enumerate(events) if isinstance(e, kind) and i >= after)


def replay_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_whole_log_verifies_and_renders_with_n_of_m(phrase_log, tmp_path, capsys):
    _, events, _ = read_all(phrase_log)
    code, out, _ = replay_cli(capsys, str(phrase_log), "--verify", "--wav", str(tmp_path / "a.wav"))
    assert code == 0
    assert f"verified: {len(events)} of {len(events)} events replayed identically" in out
    assert "rendered 32 of 32 bars" in out


def test_flipped_byte_at_record_6_exits_4_and_counts(phrase_log, tmp_path, capsys):
    reader = LogReader(phrase_log)
    ends = [reader.good_bytes]
    for _ in reader:
        ends.append(reader.good_bytes)
    data = bytearray(phrase_log.read_bytes())
    data[ends[5] + 10] ^= 0x40  # a payload byte of record 6
    bad = tmp_path / "flipped.bgnlog"
    bad.write_bytes(bytes(data))
    code, out, err = replay_cli(capsys, str(bad), "--verify")
    assert code == 4, out + err
    assert "5 of 5 readable events" in out and "partial" in out
    assert "corrupt record at byte" in err
    code, out, err = replay_cli(capsys, str(bad), "--wav", str(tmp_path / "f.wav"))
    assert code == 4
    assert "rendered 0 of 32 bars" in out
    code, out, _ = replay_cli(capsys, str(bad), "--verify", "--allow-partial")
    assert code == 0 and "5 of 5 readable events" in out


def test_a_flipped_byte_in_the_header_is_a_damaged_log(phrase_log, tmp_path, capsys):
    data = bytearray(phrase_log.read_bytes())
    data[200] ^= 0x40  # inside the header record, past the signature
    bad = tmp_path / "header.bgnlog"
    bad.write_bytes(bytes(data))
    code, _, err = replay_cli(capsys, str(bad), "--verify")
    assert code == 4 and "log header is corrupt" in err, err
    capsys.readouterr()
    assert main(["inspect", str(bad)]) == 4


def inspect_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_of_a_log_damaged_after_its_header_exits_4_and_says_where(phrase_log, tmp_path, capsys):
    """Like replay: a flipped byte or a cut in a later record is a damaged log (exit 4), with how much was read."""
    reader = LogReader(phrase_log)
    ends = [reader.good_bytes]
    for _ in reader:
        ends.append(reader.good_bytes)
    data = phrase_log.read_bytes()
    flipped = bytearray(data)
    flipped[ends[40] + 10] ^= 0x40  # a payload byte of record 41
    cases = {"flipped": bytes(flipped), "cut": data[: ends[60] + 7]}
    for name, content in cases.items():
        bad = tmp_path / f"{name}.bgnlog"
        bad.write_bytes(content)
        read = 40 if name == "flipped" else 60
        bars = sum(1 for e in read_all(bad)[1] if isinstance(e, ev.BarPlayed))
        code, out, err = inspect_cli(capsys, str(bad))
        assert code == 4, f"{name}: exit {code}\n{err}"
        where = "corrupt record at byte" if name == "flipped" else "torn tail at byte"
        assert f"{where} {ends[read]} (record {read + 1})" in err, err
        assert f"inspected {read} events, {bars} of 32 bars (partial: the log is incomplete or damaged)" in err, err
        assert f"{bars}/32 bars" in out  # the summary of what could be read is still shown
        code, out, err = inspect_cli(capsys, str(bad), "--json")
        assert code == 4 and len(out.splitlines()) == read and where in err
        assert inspect_cli(capsys, str(bad), "--allow-partial")[0] == 0


@pytest.mark.parametrize("victim", [ev.BarPlayed, ev.LMResponse])
def test_a_deleted_input_record_exits_4(phrase_log, tmp_path, capsys, victim):
    def drop(events: Events) -> Events:
        index = first(events, victim, after=len(events) // 3)
        return events[:index] + events[index + 1 :]

    bad = rewrite(phrase_log, tmp_path / "deleted.bgnlog", drop)
    code, out, err = replay_cli(capsys, str(bad), "--verify")
    assert code == 4, out + err
    assert "missing (1 record(s) deleted)" in err
    assert " of " in out
    code, out, err = replay_cli(capsys, str(bad), "--wav", str(tmp_path / "d.wav"))
    assert code == 4 and " of 32 bars" in out


def test_a_duplicated_bar_played_exits_4_and_is_not_rendered_twice(phrase_log, tmp_path, capsys):
    def dup(events: Events) -> Events:
        index = first(events, ev.BarPlayed, after=len(events) // 2)
        return [*events[: index + 1], events[index], *events[index + 1 :]]

    bad = rewrite(phrase_log, tmp_path / "dup.bgnlog", dup)
    good_wav, bad_wav = tmp_path / "good.wav", tmp_path / "dup.wav"
    assert main(["replay", str(phrase_log), "--wav", str(good_wav)]) == 0
    code, out, err = replay_cli(capsys, str(bad), "--wav", str(bad_wav))
    assert code == 4
    assert "appears again" in err and "played again" in err
    assert "rendered 32 of 32 bars" in out
    assert bad_wav.read_bytes() == good_wav.read_bytes()
    code, _, _ = replay_cli(capsys, str(bad), "--verify")
    assert code == 4


def test_a_log_without_set_ended_exits_4(phrase_log, tmp_path, capsys):
    bad = rewrite(phrase_log, tmp_path / "cut.bgnlog", lambda events: events[:-1])
    code, out, err = replay_cli(capsys, str(bad), "--verify")
    assert code == 4
    assert "no SetEnded" in err
    n = len(read_all(bad)[1])
    assert f"{n} of {n} events" in out
    assert replay_cli(capsys, str(bad), "--verify", "--allow-partial")[0] == 0


@pytest.mark.parametrize("how", ["--verify", "--wav"])
def test_a_log_its_set_still_writes_replays_what_was_audited(phrase_log, tmp_path, capsys, monkeypatch, how):
    """Replay reads a log more than once; a set still playing appends between the reads. Each pass stops where the
    first did (before: "partial: 141 of 117 events replayed identically")."""
    whole = phrase_log.read_bytes()
    reader = LogReader(phrase_log)
    for _ in zip(range(60), reader, strict=False):
        pass
    growing = tmp_path / "growing.bgnlog"
    growing.write_bytes(whole[: reader.good_bytes])
    audited = replay.audit

    def audit_then_the_set_writes_on(path: Path) -> replay.Audit:
        found = audited(path)
        with open(path, "ab") as file:
            file.write(whole[reader.good_bytes :])
        return found

    monkeypatch.setattr(replay, "audit", audit_then_the_set_writes_on)
    wav = tmp_path / "growing.wav"
    code, out, err = replay_cli(capsys, str(growing), *(["--verify"] if how == "--verify" else ["--wav", str(wav)]))
    assert code == 4 and "no SetEnded" in err
    if how == "--verify":
        assert "partial: 60 of 60 events replayed identically" in out
    else:
        bars = sum(isinstance(e, ev.BarPlayed) for _, e in zip(range(60), LogReader(phrase_log), strict=False))
        assert f"rendered {bars} of 32 bars" in out


# --- 3: the set context comes from SetStarted -------------------------------------------------------------------


async def test_swap_to_rlm_in_a_fast_set_verifies(tmp_path):
    scenario, text = scenarios.load(SCENARIOS / "rlm_scripted.toml")
    conductor = msgspec.structs.replace(scenario.conductor, kind="autopilot", sandbox_timeout_s=0.5)
    scenario = scenarios.replace(scenario, bars=40, conductor=conductor)

    async def person(desk) -> None:
        desk.submit("swap conductor rlm")

    with trio.fail_after(120):
        result = await perform(
            scenario, text, log_path=tmp_path / "s.bgnlog", wav_path=tmp_path / "s.wav", controls=person
        )
    events = read_all(result.log_path)[1]
    assert any(isinstance(e, ev.ActorSwapped) and e.new == "rlm" for e in events)
    assert any(isinstance(e, ev.ToolCall) for e in events), "the swapped-in rlm runs its program"
    assert next(e for e in events if isinstance(e, ev.SetStarted)).fast
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.mismatch is None, verdict.mismatch.describe()
    assert verdict.verified and verdict.done == len(events)


class ContextProbe(Actor):
    """A critic that says what set context it was built in: replay must build it in the same one."""

    kind = "context_probe"
    subscribes = (ev.BarPlayed,)

    def handle(self, event: ev.Event) -> None:
        if event.bar % 4 == 0:
            text = f"fast={self.ctx.set.fast} total={self.ctx.set.total_bars}"
            self.ctx.emit(ev.Directive(kind="vary", text=text, bar=event.bar))


async def test_an_actor_swapped_in_mid_set_replays_in_the_logged_context(scenario_factory, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.KINDS["critic"], "context_probe", ContextProbe)

    async def person(desk) -> None:
        desk.submit("swap critic context_probe")

    scenario = scenario_factory(bars=16)
    with trio.fail_after(60):
        result = await perform(
            scenario, "", log_path=tmp_path / "p.bgnlog", wav_path=tmp_path / "p.wav", controls=person
        )
    said = [e.text for e in read_all(result.log_path)[1] if isinstance(e, ev.Directive) and e.source == "critic"]
    assert "fast=True total=16" in said
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.mismatch is None, verdict.mismatch.describe()
    assert verdict.verified


# --- 4: per-bar audio checksums ---------------------------------------------------------------------------------


def test_every_bar_played_carries_its_audio_checksum(phrase_log):
    played = [e for e in read_all(phrase_log)[1] if isinstance(e, ev.BarPlayed)]
    assert len(played) == 32 and all(e.checksum >= 0 for e in played)
    assert len({e.checksum for e in played}) > 16


def test_a_renderer_that_changed_is_named_at_its_first_bar(phrase_log, tmp_path, capsys, monkeypatch):
    """A renderer that sums layers in another order from bar 8 on: --wav and --verify name bar 8."""
    original = render_module.Renderer.render

    def reordered(self, plan):
        if plan.bar >= 8:
            plan = msgspec.structs.replace(plan, layers=tuple(reversed(plan.layers)))
        return original(self, plan)

    monkeypatch.setattr(render_module.Renderer, "render", reordered)
    code, _, err = replay_cli(capsys, str(phrase_log), "--wav", str(tmp_path / "r.wav"))
    assert code == 3
    assert "diverged at bar 8" in err
    code, _, err = replay_cli(capsys, str(phrase_log), "--verify")
    assert code == 3
    assert "diverged at bar 8" in err


def test_a_streamer_that_scaled_its_audio_is_caught(scenario_factory, tmp_path, capsys, monkeypatch):
    """Edge actors are not trusted blindly: a streamer that played (and wrote) other audio than its plans say."""
    from bergain_actors.actors.streamer import streamer

    real = streamer.Renderer.render

    def louder(self, plan):
        audio = real(self, plan)
        return audio * np.float32(0.5) if plan.bar == 5 else audio

    monkeypatch.setattr(streamer.Renderer, "render", louder)
    scenario = scenario_factory(bars=12)
    trio.run(lambda: perform(scenario, "", log_path=tmp_path / "s.bgnlog", wav_path=tmp_path / "s.wav"))
    monkeypatch.setattr(streamer.Renderer, "render", real)
    code, _, err = replay_cli(capsys, str(tmp_path / "s.bgnlog"), "--wav", str(tmp_path / "r.wav"))
    assert code == 3 and "diverged at bar 5" in err


# --- 5: outputs told from inputs by type and emitting actor ------------------------------------------------------


def test_a_decision_published_under_another_name_is_still_checked(phrase_log, capsys, monkeypatch):
    """Replayed code whose conductor publishes its mixer moves as if it were the router, with another gain."""
    real_emit = ActorContext.emit

    def disguised(self, event):
        if self.slot == "conductor" and isinstance(event, ev.MixerMove) and "gain" in event.args:
            event = msgspec.structs.replace(event, args={**event.args, "gain": 0.123}, source="router")
        return real_emit(self, event)

    monkeypatch.setattr(ActorContext, "emit", disguised)
    code, _, err = replay_cli(capsys, str(phrase_log), "--verify")
    assert code == 3, err
    assert '"gain":0.123' in err


def test_a_logged_output_replay_never_produces_is_reported(phrase_log, tmp_path, capsys):
    """The log claims a decision (under no slot's name) that the code never makes."""

    def claim(events: Events) -> Events:
        end = events[-1]
        fake = ev.MixerMove(move="add", role="kick", seq=end.seq, bar=end.bar, source="")
        return [*events[:-1], fake, msgspec.structs.replace(end, seq=end.seq + 1)]

    bad = rewrite(phrase_log, tmp_path / "claim.bgnlog", claim)
    code, _, err = replay_cli(capsys, str(bad), "--verify")
    assert code == 3
    assert "never produced" in err and '"role":"kick"' in err


def test_changed_autopilot_gain_still_diverges_at_its_move(phrase_log, capsys, monkeypatch):
    monkeypatch.setitem(autopilot.PREFERRED_GAIN, "hihat", 0.5)
    monkeypatch.setitem(autopilot.PREFERRED_GAIN, "kick", 0.5)
    code, _, err = replay_cli(capsys, str(phrase_log), "--verify")
    assert code == 3 and "replay diverged at seq" in err


# --- 8: --wav never overwrites an input -------------------------------------------------------------------------


def test_wav_onto_the_log_itself_is_refused(phrase_log, tmp_path, capsys):
    log = tmp_path / "copy.bgnlog"
    log.write_bytes(phrase_log.read_bytes())
    before = log.read_bytes()
    for argv in ([str(log), "--wav", str(log)], [str(log), "--wav", str(log), "--force"]):
        code, _, err = replay_cli(capsys, *argv)
        assert code == 2
        assert "that is the log being replayed" in err
    assert log.read_bytes() == before


def test_wav_into_a_folder_or_onto_a_file_needs_care(phrase_log, tmp_path, capsys):
    code, _, err = replay_cli(capsys, str(phrase_log), "--wav", str(tmp_path))
    assert code == 2 and "is a folder" in err and "Traceback" not in err
    existing = tmp_path / "old.wav"
    existing.write_bytes(b"keep me")
    code, _, err = replay_cli(capsys, str(phrase_log), "--wav", str(existing))
    assert code == 2 and "already exists; pass --force" in err
    assert existing.read_bytes() == b"keep me"
    code, _, _ = replay_cli(capsys, str(phrase_log), "--wav", str(existing), "--force")
    assert code == 0 and existing.read_bytes()[:4] == b"RIFF"


async def test_a_rejected_swap_replays_in_a_process_that_registered_other_kinds(
    scenario_factory, tmp_path, monkeypatch
):
    """The rejection names the known kinds; a replaying process with more kinds registered must say the same."""

    async def person(desk) -> None:
        desk.submit("swap conductor bogus")

    scenario = scenario_factory(bars=8)
    with trio.fail_after(60):
        result = await perform(
            scenario, "", log_path=tmp_path / "r.bgnlog", wav_path=tmp_path / "r.wav", controls=person
        )
    assert any(isinstance(e, ev.CommandRejected) for e in read_all(result.log_path)[1])
    monkeypatch.setitem(registry.KINDS["conductor"], "plugin_brain", ContextProbe)
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.mismatch is None, verdict.mismatch.describe()


def test_inspect_of_a_log_without_set_ended_exits_4(tmp_path, capsys):
    """A log cut at a record boundary reads cleanly but is not whole: a set killed, or one still playing."""
    log = rewrite(CORPUS / "autopilot.bgnlog", tmp_path / "open.bgnlog", lambda e: e[:-1])
    code, out, err = inspect_cli(capsys, str(log))
    bars = sum(1 for e in read_all(log)[1] if isinstance(e, ev.BarPlayed))
    assert code == 4 and f"{bars}/{bars} bars" in out
    assert "the log has no SetEnded: the set was cut off (killed, or the disk filled) or still plays" in err


def test_set_started_is_built_in_one_place_and_replay_rebuilds_the_same_context(phrase_log):
    """The set context ``SetStarted`` logged, rebuilt by replay, announces the very same set (a fast one here)."""
    reader = LogReader(phrase_log)
    started = next(e for e in reader if isinstance(e, ev.SetStarted))
    assert started.fast and started.total_bars == 32
    rebuilt = SetContext(replay.scenario_of(reader), fast=started.fast, total_bars=started.total_bars)
    assert rebuilt.started() == msgspec.structs.replace(started, seq=0, source="", wall=0.0)


def test_a_wav_the_disk_refuses_at_the_last_bar_fails_the_render(tmp_path, monkeypatch):
    """``replay --wav`` writes behind the render, in a thread: a write refused at the very last bar (after which
    no write comes to raise it) still fails the render, with the disk's reason."""
    import errno

    from bergain_actors.actors.streamer import sinks
    from bergain_actors.core.fatal import SetCannotContinue

    log = CORPUS / "autopilot.bgnlog"
    bars = sum(isinstance(e, ev.BarPlayed) for e in LogReader(log))
    real, calls = sinks._write_all, [0]

    def full_at_the_last_bar(fd, data):
        calls[0] += 1
        if calls[0] == 1 + bars:  # the header, then every bar
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(sinks, "_write_all", full_at_the_last_bar)
    with pytest.raises(SetCannotContinue, match="No space left on device"):
        replay.render(log, tmp_path / "r.wav", warn=lambda _: None)
    assert calls[0] == 1 + bars
