"""What replay, inspect and the writers accept: events from no one, a WAV that is not what the log renders,
special files as outputs, and the one-line answers to bad input."""

from __future__ import annotations

import math
import os
import random
import stat
import struct
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import trio

from bergain_actors.actors.critic.arc import ArcCritic
from bergain_actors.actors.streamer import sinks
from bergain_actors.cli import main
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor, ActorContext, SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.log import read_all
from bergain_actors.performance import perform
from tests.tamper import Tamper, forge

CORPUS = Path(__file__).parent / "corpus"
ROOT = Path(__file__).resolve().parents[1]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exit:  # argparse's own errors
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# --- 3: every event has a source ----------------------------------------------------------------------------------


class Shouter(Actor):
    """A critic publishing straight on the bus, without naming its slot."""

    subscribes = (ev.BarPlayed,)

    def handle(self, event: ev.Event) -> None:
        self.ctx.bus.publish(ev.Directive(kind="vary", text=f"bar {event.bar}", bar=event.bar))


def test_an_actor_publishing_without_its_slot_is_stamped_with_it(scenario_factory):
    bus = Bus(None, wall_clock=False)
    seen: list[ev.Event] = []
    bus.taps.append(seen.append)
    set_ctx = SetContext(scenario_factory(bars=4), fast=True, total_bars=4)
    bus.attach("critic", Shouter(ActorContext("critic", bus, set_ctx), None), registry.SLOT_ORDER)
    bus.publish(ev.BarPlayed(plan_seq=1, bar=0), source="streamer")
    [said] = [e for e in seen if isinstance(e, ev.Directive)]
    assert said.source == "critic"


def test_an_event_from_no_one_is_refused_and_not_logged():
    bus = Bus(None, wall_clock=False)
    with pytest.raises(ValueError, match="DirectiveMoved published without a source"):
        bus.publish(ev.DirectiveMoved(directive="vary", measure="energy", before=0, after=1, target=1, moved=True))
    assert bus.seq == 0


class Whisperer(ArcCritic):
    """The arc critic, plus a task that claims a directive moved its target, from random numbers."""

    kind = "whisperer"

    async def run(self, inbox) -> None:
        await trio.sleep_forever()

    def handle(self, event: ev.Event) -> None:
        super().handle(event)
        if isinstance(event, ev.BarPlayed) and event.bar == 3:
            self.ctx.spawn(self.whisper, event.bar)

    async def whisper(self, bar: int) -> None:
        value = random.random()
        claim = ev.DirectiveMoved(directive="vary", measure="energy", before=0, after=value, target=1, moved=True)
        self.ctx.bus.publish(claim)


async def test_a_verdict_published_from_a_task_without_a_source_fails_verify(scenario_factory, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.KINDS["critic"], "whisperer", Whisperer)
    scenario = scenario_factory(bars=8, critic={"kind": "whisperer"})
    with trio.fail_after(60):
        result = await perform(scenario, "", log_path=tmp_path / "w.bgnlog", wav_path=tmp_path / "w.wav")
    events = read_all(result.log_path)[1]
    assert not [e for e in events if not e.source], "an event from no one was logged"
    assert not [e for e in events if isinstance(e, ev.DirectiveMoved)]
    assert [e.slot for e in events if isinstance(e, ev.ActorCrashed)] == ["critic"]
    code = await trio.to_thread.run_sync(lambda: main(["replay", str(result.log_path), "--verify"]))
    assert code == 3


# --- 4: the WAV itself ----------------------------------------------------------------------------------------------


def test_wav_check_catches_audio_changed_on_its_way_to_the_wav(scenario_factory, tmp_path, capsys, monkeypatch):
    """A gain applied after the checksum, only to what the WAV gets: the log verifies, the WAV does not."""
    real = sinks.WavWriter.write
    written = [0]

    def quieter(self, audio):
        written[0] += 1
        return real(self, audio * np.float32(0.5) if written[0] == 6 else audio)

    monkeypatch.setattr(sinks.WavWriter, "write", quieter)
    scenario = scenario_factory(bars=8)
    trio.run(lambda: perform(scenario, "", log_path=tmp_path / "s.bgnlog", wav_path=tmp_path / "s.wav"))
    monkeypatch.setattr(sinks.WavWriter, "write", real)
    log, wav = str(tmp_path / "s.bgnlog"), str(tmp_path / "s.wav")
    assert cli(capsys, "replay", log, "--verify")[0] == 0
    code, out, err = cli(capsys, "replay", log, "--verify", "--wav-check", wav)
    assert code == 3, out + err
    assert "replay diverged at bar 5" in err and "holds other audio for this bar" in err
    rendered = tmp_path / "r.wav"
    assert cli(capsys, "replay", log, "--wav", str(rendered))[0] == 0
    code, out, _ = cli(capsys, "replay", log, "--verify", "--wav-check", str(rendered))
    assert code == 0 and "and " + str(rendered) + " holds exactly their audio" in out
    short = tmp_path / "short.wav"
    data, rate = sf.read(rendered, dtype="int16")
    sf.write(short, data[: len(data) // 2], rate, subtype="PCM_16")
    code, _, err = cli(capsys, "replay", log, "--verify", "--wav-check", str(short))
    assert code == 3 and "ends before bar" in err


# --- 6: writers never replace a special file ------------------------------------------------------------------------


def special_files(folder: Path) -> dict[str, Path]:
    """A FIFO, a link to a file and (as root) a character device like /dev/full, made in ``folder``: a writer
    that wrongly replaced one damages nothing outside the test."""
    made = {"fifo": folder / "pipe"}
    os.mkfifo(made["fifo"])
    target = folder / "real.mid"
    target.write_bytes(b"keep")
    made["link"] = folder / "link.wav"
    made["link"].symlink_to(target)
    if os.geteuid() == 0:
        made["device"] = folder / "full"
        os.mknod(made["device"], 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return made


def test_no_writer_replaces_a_device_a_fifo_or_a_link(tmp_path, capsys):
    log = str(CORPUS / "autopilot.bgnlog")
    made = special_files(tmp_path)
    modes = {name: os.lstat(path).st_mode for name, path in made.items()}
    for name, path in made.items():
        for flag in ("--wav", "--midi"):
            code, out, err = cli(capsys, "replay", log, flag, str(path), "--force")
            assert code == 2, f"{flag} {name}: exit {code}\n{out}{err}"
            assert "only a new path or a regular file is written, even with --force" in err
            assert len(err.strip().splitlines()) == 1
    assert {name: os.lstat(path).st_mode for name, path in made.items()} == modes
    assert (tmp_path / "real.mid").read_bytes() == b"keep"


def test_clip_midi_goes_through_the_same_check(tmp_path, capsys):
    fifo = special_files(tmp_path)["fifo"]
    code, _, err = cli(capsys, "clip", "4-bar acid bassline in A minor", "--midi", str(fifo), "--force")
    assert code == 2 and f"--midi {fifo}: is not a regular file" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- 9: smaller ---------------------------------------------------------------------------------------------------


def test_inspect_of_a_fifo_refuses_at_once(tmp_path):
    fifo = tmp_path / "log.bgnlog"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "bergain_actors.cli", "inspect", str(fifo)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "not a regular file" in done.stderr


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--seed", "abc"], "run: argument --seed: invalid int value: 'abc'"),
        (["replay", "x.bgnlog", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["dance"], "argument COMMAND: invalid choice: 'dance'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_a_bad_command_line_is_one_line(capsys, argv, says):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and err.startswith(f"bergain-actors: {says}") and out == ""
    assert len(err.strip().splitlines()) == 1, err


def test_a_wav_of_a_killed_set_counts_its_whole_bars(tmp_path):
    """The header is rewritten after every bar: killed outright, the WAV holds exactly the bars written, and a bar
    torn by the kill lies past its data size."""
    writer = sinks.WavWriter(tmp_path / "k.wav", 44100)
    bar = np.full((1000, 2), 0.25, dtype=np.float32)
    for _ in range(3):
        writer.write(bar)
    with open(tmp_path / "k.wav", "ab") as file:  # half a bar, as if the kill came mid-write
        file.write(b"\x01\x02" * 1000)
    info = sf.info(str(tmp_path / "k.wav"))
    assert info.frames == 3000
    writer.close()


def test_a_damaged_log_says_its_count_is_of_what_could_be_read(tmp_path, capsys):
    whole = forge(CORPUS / "autopilot.bgnlog", tmp_path / "whole.bgnlog", Tamper(name="none", exit=0, says=""))
    data = whole.read_bytes()
    cut = tmp_path / "cut.bgnlog"
    cut.write_bytes(data[: len(data) * 2 // 3])
    code, out, _ = cli(capsys, "replay", str(cut), "--verify")
    assert code == 4 and " readable events" in out and not out.startswith("verified")


def test_the_count_before_a_difference_stops_at_it(tmp_path, capsys, monkeypatch):
    """A decision that differs at seq S: the count says what was checked and where the difference is."""
    from bergain_actors.actors.conductor import autopilot

    monkeypatch.setitem(autopilot.PREFERRED_GAIN, "kick", 0.5)
    code, out, err = cli(capsys, "replay", str(CORPUS / "autopilot.bgnlog"), "--verify")
    seq = int(err.split("replay diverged at seq ")[1].split()[0])
    checked = int(out.split("checked ")[1].split()[0])
    assert code == 3 and checked < seq and f"the first difference is at seq {seq}" in out


@pytest.mark.timeout(180)
def test_a_set_killed_outright_leaves_a_wav_of_whole_bars_that_replay_renders(tmp_path):
    """SIGKILL in --fast, mid-set: the WAV's header counts whole bars only, and they are the first bars replay
    renders from the log (which holds at least those bars)."""
    argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(ROOT / "scenarios" / "autopilot.toml"), "--fast"]
    argv += ["--quiet", "--no-report", "--bars", "3000", "--out", str(tmp_path)]
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        trio.run(_until_wav_has_bars, tmp_path, 40)
    finally:
        child.kill()
        child.wait(timeout=60)
    [log] = tmp_path.glob("*.bgnlog")
    [wav] = tmp_path.glob("*.wav")
    killed, rate = sf.read(wav, dtype="int16")
    header = wav.read_bytes()[:44]
    assert struct.unpack_from("<I", header, 40)[0] == killed.size * 2, "the header counts the whole bars"
    rendered = tmp_path / "replayed.wav"
    assert main(["replay", str(log), "--wav", str(rendered), "--allow-partial"]) == 0
    again, _ = sf.read(rendered, dtype="int16")
    bar = Fraction(rate * 60 * 4, 128)  # frames per bar at the scenario's 128 BPM
    bars = round(len(killed) / bar)
    assert bars >= 40 and len(killed) in (math.floor(bars * bar), math.ceil(bars * bar)), "a torn bar in the WAV"
    assert len(again) >= len(killed) and np.array_equal(killed, again[: len(killed)])


async def _until_wav_has_bars(folder: Path, bars: int) -> None:
    """Wait (on the file growing, with a deadline) until the set's WAV holds ``bars`` bars."""
    with trio.fail_after(120):
        while True:
            wavs = list(folder.glob("*.wav"))
            if wavs and wavs[0].stat().st_size > 44 + bars * 2 * 2 * 82688:
                return
            await trio.sleep(0.05)
