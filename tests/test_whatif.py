"""What-if replay: a logged set played again from its recorded inputs with another brain or critic, into a new
log and WAV, and a musical diff that names the first divergent bar."""

from __future__ import annotations

from pathlib import Path

import pytest

from bergain_actors import replay
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.log import LogReader, read_all
from bergain_actors.replay import played_plans
from bergain_actors.whatif import newly_rejected
from tests.tamper import Tamper, cut, forge

CORPUS = Path(__file__).parent / "corpus"


def what_if(capsys, log: Path, out: Path, *swaps: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["replay", str(log), *[a for s in swaps for a in ("--swap", s)], "--out", str(out)])
    printed, err = capsys.readouterr()
    return code, printed, err


def first_difference(a: Path, b: Path) -> int:
    plans_a, plans_b = list(played_plans(LogReader(a))), list(played_plans(LogReader(b)))
    return next(i for i, (x, y) in enumerate(zip(plans_a, plans_b, strict=False)) if x != y)


def test_another_brain_plays_a_new_set_and_the_diff_names_where_it_parts(tmp_path, capsys):
    original = CORPUS / "phrase-scripted.bgnlog"
    code, printed, err = what_if(capsys, original, tmp_path, "conductor=autopilot", "critic=none")
    assert code == 0, err[-1500:]
    (log,) = tmp_path.glob("*.bgnlog")
    (wav,) = tmp_path.glob("*.wav")
    assert f"log  {log}" in printed and f"wav  {wav}" in printed
    events = read_all(log)[1]
    started = {e.slot: e.kind for e in events if isinstance(e, ev.ActorStarted)}
    assert started["conductor"] == "autopilot" and started["critic"] == "none"
    assert not [e for e in events if isinstance(e, ev.Directive)]
    first = first_difference(original, log)
    assert f"first divergent bar {first};" in printed
    table = printed.split("bars  energy")[1].splitlines()[1:]  # the phrase table, a changed phrase starred
    assert len(table) == 2 and any(row.startswith("*") for row in table), printed
    assert replay.verify(log, warn=lambda m: None).verified  # the what-if set is a set like any other
    assert main(["replay", str(log), "--wav", str(tmp_path / "again.wav")]) == 0
    assert (tmp_path / "again.wav").read_bytes() == wav.read_bytes()


@pytest.mark.parametrize(
    ("name", "same"),
    [
        ("autopilot", "critic=arc"),
        ("swap", "critic=arc"),
        ("stopped", "critic=arc"),
        ("failover", "critic=arc"),
    ],
)
def test_the_same_kinds_replay_the_same_set(name, same, tmp_path, capsys):
    """Recorded inputs (LM answers and failures, commands at their bars) reproduce the set when nothing is swapped
    for real."""
    code, printed, err = what_if(capsys, CORPUS / f"{name}.bgnlog", tmp_path, same)
    assert code == 0, err[-1500:]
    bars = sum(1 for e in read_all(CORPUS / f"{name}.bgnlog")[1] if isinstance(e, ev.BarPlayed))
    assert f"no divergence: both sets play the same {bars} bars" in printed


@pytest.mark.parametrize(
    ("swap", "message"),
    [
        ("conductor", "--swap conductor: expected SLOT=KIND"),
        ("streamer=audio", "--swap streamer=audio: only conductor and critic can be swapped"),
        ("conductor=nonesuch", "--swap conductor=nonesuch: conductor.kind: unknown kind 'nonesuch'"),
    ],
)
def test_bad_swaps_are_one_line_errors(tmp_path, capsys, swap, message):
    code, _, err = what_if(capsys, CORPUS / "autopilot.bgnlog", tmp_path / "out", swap)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_what_if_needs_somewhere_to_go(capsys):
    assert main(["replay", str(CORPUS / "autopilot.bgnlog"), "--swap", "critic=none"]) == 2
    assert "--out DIR" in capsys.readouterr().err


def test_a_brain_that_fell_back_is_named_in_the_warning_and_the_diff(tmp_path, capsys):
    """The autopilot set has no LM answers to serve, so the phrase brain asked for falls back to the autopilot:
    "no divergence" would claim phrase plays the same set; the warning and the diff say who decided instead."""
    code, printed, err = what_if(capsys, CORPUS / "autopilot.bgnlog", tmp_path, "conductor=phrase")
    assert code == 0, err[-1500:]
    (log,) = tmp_path.glob("*.bgnlog")
    events = read_all(log)[1]
    (down,) = [e for e in events if isinstance(e, ev.BrainChanged)]
    assert (down.old, down.new) == ("phrase", "autopilot")
    bars = sum(1 for e in events if isinstance(e, ev.BarPlayed))
    fell = f"conductor=phrase did not decide {bars - down.bar} of {bars} bars"
    assert fell in err and "warning" in err.lower() and "as in the original" not in err
    assert f"autopilot decided bars {down.bar}-{bars - 1} ({down.reason})" in err
    head = printed.splitlines()[3]
    assert head.startswith("no divergence") and fell in head, printed
    assert f"autopilot decided bars {down.bar}-{bars - 1}" in printed
    assert "0-15" in printed and "autopilot, not phrase" in printed


def test_a_fallback_the_original_had_too_is_told_apart(tmp_path, capsys):
    """The same brain replays the same set from its recorded answers; the scripted LM failed for bar 16 in the
    original as well, so the phrase brain stood down there in both sets, and the diff says so."""
    code, printed, err = what_if(capsys, CORPUS / "phrase-scripted.bgnlog", tmp_path, "conductor=phrase")
    assert code == 0, err[-1500:]
    (log,) = tmp_path.glob("*.bgnlog")
    bars = sum(1 for e in read_all(CORPUS / "phrase-scripted.bgnlog")[1] if isinstance(e, ev.BarPlayed))
    assert f"no divergence: both sets play the same {bars} bars" in printed
    (down, up) = [e for e in read_all(log)[1] if isinstance(e, ev.BrainChanged)]
    (was_down, was_up) = [e for e in read_all(CORPUS / "phrase-scripted.bgnlog")[1] if isinstance(e, ev.BrainChanged)]
    both = (max(down.bar, was_down.bar), min(up.bar, was_up.bar) - 1)  # when the answer came back may differ a bar
    stood = f"autopilot decided bars {both[0]}-{both[1]} ({down.reason}), as in the original"
    assert stood in err and stood in printed


def test_an_llm_critic_whose_lm_has_no_answer_in_replay_is_named_as_standing_in(tmp_path, capsys):
    """The original set's recorded answers are the phrase brain's: the llm critic swapped in gets none, falls back
    to the arc rules, and the what-if says for which bars the critic asked for did not judge."""
    code, printed, err = what_if(capsys, CORPUS / "phrase-scripted.bgnlog", tmp_path, "critic=llm")
    assert code == 0, err[-1500:]
    (log,) = tmp_path.glob("*.bgnlog")
    events = read_all(log)[1]
    fell = next(e for e in events if isinstance(e, ev.CriticChanged))
    assert (fell.old, fell.new) == ("llm", "arc")
    bars = sum(1 for e in events if isinstance(e, ev.BarPlayed))
    assert f"critic=llm did not decide {bars - fell.bar} of {bars} bars" in err
    assert f"arc decided bars {fell.bar}-{bars - 1} ({fell.reason})" in printed


def test_a_what_if_of_a_damaged_or_cut_log_is_refused(tmp_path, capsys):
    """Its inputs end early: the bars it lacks are not divergence. Exit 4 with the reason, nothing played."""
    tamper = Tamper(name="cut", change=cut(0.5), exit=4, says="")
    short = forge(CORPUS / "autopilot.bgnlog", tmp_path / "in" / "cut.bgnlog", tamper)
    code, printed, err = what_if(capsys, short, tmp_path / "out", "critic=none")
    assert code == 4 and "no SetEnded" in err and "a what-if plays whole sets only" in err, err
    assert not (tmp_path / "out").exists() and "divergent" not in printed
    torn = tmp_path / "in" / "torn.bgnlog"
    torn.write_bytes(short.read_bytes()[:-3])  # cut inside its last record
    code, _, err = what_if(capsys, torn, tmp_path / "out", "critic=none")
    assert code == 4 and err.count(str(torn)) == 1 and f"{torn}: torn tail at byte" in err, err  # its path once


def test_a_what_if_into_the_logs_own_folder_is_refused(tmp_path, capsys):
    log = forge(CORPUS / "autopilot.bgnlog", tmp_path / "set.bgnlog", Tamper(name="none", exit=0, says=""))
    code, _, err = what_if(capsys, log, tmp_path, "critic=none")
    assert code == 2 and "that is the folder of the log being played again" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.bgnlog"]


def test_swapping_one_slot_twice_is_refused(tmp_path, capsys):
    code, _, err = what_if(capsys, CORPUS / "autopilot.bgnlog", tmp_path / "o", "conductor=autopilot", "conductor=hold")
    assert code == 2 and "--swap conductor=hold: conductor is already swapped to autopilot" in err


def test_a_command_the_what_if_rejects_is_reported():
    """The original carried out a provider switch; in the what-if the same command was refused."""
    control = ev.ProviderControl(op="switch", provider="lms", seq=5, source="control")
    original = [control]
    again = [control, ev.CommandRejected(command="provider switch", reason="no provider 'lms'", cause=5, seq=6)]
    assert newly_rejected(original, again) == (
        "the command 'provider switch lms' (accepted in the original) was rejected: no provider 'lms'",
    )
    assert newly_rejected(again, again) == ()  # refused in both: nothing the what-if changed


async def test_a_provider_command_refused_in_the_what_if_is_said(tmp_path):
    """The person switched providers; the what-if serves recorded answers under another provider's name, so the
    same switch is refused there, and the diff says so instead of passing the change off as the brain's."""
    import trio

    from bergain_actors.core import scenario as scenarios
    from bergain_actors.performance import perform
    from bergain_actors.whatif import what_if as play_again
    from tests.brain_support import SCENARIOS

    scenario, text = scenarios.load(SCENARIOS / "phrase_scripted.toml")
    scenario = scenarios.replace(scenario, bars=16, minutes=None)

    async def person(desk) -> None:
        desk.submit("provider switch scripted")

    with trio.fail_after(120):
        result = await perform(
            scenario, text, log_path=tmp_path / "p.bgnlog", wav_path=tmp_path / "p.wav", controls=person
        )
    assert not [e for e in read_all(result.log_path)[1] if isinstance(e, ev.CommandRejected)]
    warned: list[str] = []
    _, _, diff = await trio.to_thread.run_sync(
        lambda: play_again(result.log_path, {"critic": "none"}, tmp_path / "w", warned.append)
    )
    [line] = diff.rejected
    assert line.startswith("the command 'provider switch scripted' (accepted in the original) was rejected: ")
    assert f"  {line}" in diff.lines() and any(line in w for w in warned)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--wav", "r.wav", "--out", "sets"], "--out: the what-if's folder, for --swap SLOT=KIND (--wav and --midi"),
        (["--ableton", "--wav", "r.wav"], "--ableton performs the set into Live; replay it with --wav/--verify/"),
        (["--ableton", "--swap", "critic=none", "--out", "sets"], "--ableton performs the set into Live"),
    ],
)
def test_a_replay_flag_the_chosen_replay_would_ignore_is_refused(flags, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["replay", str(CORPUS / "autopilot.bgnlog"), *flags]) == 2  # before: --out ignored, r.wav written
    assert capsys.readouterr().err.startswith(f"bergain-actors: {expected}")
    assert list(tmp_path.iterdir()) == []
