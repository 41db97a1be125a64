"""Scenario files: strict decoding and one-line errors naming file, key and problem."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from bergain_actors.cli import main
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.scenario import ScenarioError


def error_for(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        scenarios.parse(text, "scenario.toml")
    return str(info.value)


def test_defaults_decode():
    scenario = scenarios.parse('name = "x"\nbars = 16\n')
    assert scenario.total_bars() == 16
    assert scenario.critic.every_bars == 8


def test_minutes_become_whole_bars():
    assert scenarios.parse("minutes = 60\nbpm = 128\n").total_bars() == 1920


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[critic]\nevery_bars = "eight"\n', 'scenario.toml: critic.every_bars: expected int, got "eight"'),
        ("[critic]\nevery_bars = 0\n", "scenario.toml: critic.every_bars: expected int >= 1, got 0"),
        ("bpm = 900\n", "scenario.toml: bpm: expected float <= 240.0, got 900"),
        ("[critic]\nloudness = 3\n", "scenario.toml: critic.loudness: unknown key"),
        ("tempo = 128\n", "scenario.toml: tempo: unknown key"),
        ('fsync = "sometimes"\n', "scenario.toml: fsync: invalid enum value 'sometimes'"),
        ("bars = 8\nminutes = 2\n", "scenario.toml: bars, minutes: give one of them, not both"),
        (
            "[router]\nproviders = [{kind = 'openai'}]\n",
            "scenario.toml: router.providers[0].name: required key is missing",
        ),
    ],
)
def test_errors_name_key_and_problem(text, message):
    assert error_for(text) == message


def test_invalid_toml_names_file_and_position():
    message = error_for("name = \n")
    assert message.startswith("scenario.toml: invalid TOML:")
    assert "line 1" in message


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


def test_cli_bad_scenarios_exit_2_with_one_line(tmp_path, capsys):
    cases = {
        "unknown.toml": ("[critic]\nloudness = 3\n", "unknown.toml: critic.loudness: unknown key"),
        "type.toml": ('seed = "abc"\n', "type.toml: seed: expected a signed 64-bit integer"),
        "range.toml": ("lookahead_bars = 0\n", "range.toml: lookahead_bars: expected int >= 1, got 0"),
        "toml.toml": ("[critic\n", "toml.toml: invalid TOML"),
        "pack.toml": ('sample_pack = "nowhere"\n', "pack.toml: sample_pack: no such folder"),
        "file.toml": ('sample_pack = "file.toml"\n', "file.toml: sample_pack: not a folder"),
        "kind.toml": ('[critic]\nkind = "grumpy"\n', "kind.toml: critic.kind: unknown kind 'grumpy'"),
        "twice.toml": (  # before: both listed, the router kept one
            '[router]\nproviders = [{ name = "a", kind = "local" }, { name = "a", kind = "local" }]\n',
            "twice.toml: router.providers[1].name: 'a' is already providers[0]'s name",
        ),
        "url.toml": (  # before: the set played, the provider "unreachable"
            '[router]\nproviders = [{ name = "a", kind = "openai", base_url = "localhost:1234/v1" }]\n',
            "url.toml: router.providers[0].base_url: 'localhost:1234/v1' is not an http(s):// URL",
        ),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        code, err = run_cli(capsys, "run", str(path), "--dry-run")
        assert code == 2, name
        assert expected in err, (name, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
    code, err = run_cli(capsys, "run", str(tmp_path / "missing.toml"))
    assert code == 2 and "no such scenario file" in err


def test_cli_dry_run_prints_resolved_configuration(capsys):
    code = main(["run", str(scenarios.DEFAULT_SCENARIO), "--dry-run", "--bars", "12", "--seed", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert '"total_bars": 12' in out and '"seed": 5' in out


def test_cli_non_log_files_exit_2(tmp_path, capsys):
    junk = tmp_path / "junk.bgnlog"
    junk.write_bytes(b"\x00\x01 not a log at all")
    for argv in (["inspect", str(junk)], ["replay", str(junk), "--verify"], ["inspect", str(tmp_path / "none")]):
        code, err = run_cli(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("bergain-actors: ") and "Traceback" not in err


def test_brief_file_is_read_into_the_scenario_and_missing_ones_are_named(tmp_path):
    (tmp_path / "brief.txt").write_text("Acid at dawn.\n")
    (tmp_path / "s.toml").write_text('[conductor]\nbrief_file = "brief.txt"\n')
    scenario, _ = scenarios.load(tmp_path / "s.toml")
    assert scenario.conductor.brief == "Acid at dawn." and scenario.conductor.brief_file == ""
    (tmp_path / "t.toml").write_text('[conductor]\nbrief_file = "nope.txt"\n')
    with pytest.raises(ScenarioError, match=r"t.toml: conductor.brief_file: cannot read .*nope.txt"):
        scenarios.load(tmp_path / "t.toml")


PACK = str(scenarios.PACKAGE_ROOT / "sample_pack")
SEED_PROBLEM = "seed: expected a signed 64-bit integer, -9223372036854775808 to 9223372036854775807"


@pytest.mark.parametrize(
    ("toml", "flags", "expected"),
    [
        (
            "seed = 18446744073709551616\n",
            [],
            f"s.toml: {SEED_PROBLEM}, got 18446744073709551616",
        ),
        (
            "seed = 9223372036854775808\n",
            [],
            f"s.toml: {SEED_PROBLEM}, got 9223372036854775808",
        ),
        (
            "seed = -9223372036854775809\n",
            [],
            f"s.toml: {SEED_PROBLEM}, got -9223372036854775809",
        ),
        (
            "",
            ["--seed", str(2**64)],
            f"--{SEED_PROBLEM}, got 18446744073709551616",
        ),
        (
            "",
            ["--seed", str(2**63)],
            f"--{SEED_PROBLEM}, got 9223372036854775808",
        ),
        (
            "",
            ["--seed", str(-(2**63) - 1)],
            f"--{SEED_PROBLEM}, got -9223372036854775809",
        ),
        ("", ["--sample-rate", "0"], "--sample-rate: expected int >= 8000, got 0"),
        ("", ["--sample-rate", "192001"], "--sample-rate: expected int <= 192000, got 192001"),
        ("", ["--minutes", "inf"], "--minutes: expected float <= 600.0, got inf"),
        ("", ["--minutes", "1e9"], "--minutes: expected float <= 600.0, got 1000000000.0"),
        ("", ["--minutes", "0"], "--minutes: expected float > 0.0, got 0.0"),
        ("", ["--bars", "0"], "--bars: expected int >= 1, got 0"),
        ("", ["--token-env", "HOME"], "--token-env: the token of the HTTP API; it goes with --http"),  # was ignored
        ("bars = 1000000000000\n", [], "s.toml: bars: 1000000000000 bars at 128 bpm last 31250000000 minutes"),
        ("", ["--bars", "1000000000000"], "--bars: 1000000000000 bars at 128 bpm last 31250000000 minutes"),
        ("[router]\ncooldown_s = inf\n", [], "s.toml: router.cooldown_s: expected float <= 3600.0, got inf"),
        ("[conductor]\nsandbox_timeout_s = inf\n", [], "s.toml: conductor.sandbox_timeout_s: expected float <= 3600.0"),
        (
            '[router]\nproviders = [{name = "x", kind = "bogus"}]\n',
            [],
            "s.toml: router.providers[0].kind: unknown provider kind 'bogus'",
        ),
        (
            '[router]\nproviders = [{name = "x", kind = "scripted", script = "nope.json"}]\n',
            [],
            "s.toml: router.providers[0].script: cannot read",
        ),
        (
            '[router]\nproviders = [{name = "x", kind = "local", model_path = "nope.gguf"}]\n',
            [],
            "s.toml: router.providers[0].model_path: no such file",
        ),
    ],
)
def test_bad_input_from_toml_or_flags_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, toml, flags, expected):
    """Command-line overrides go through the scenario's own validation: the same limits, the same one line."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'sample_pack = "{PACK}"\nbpm = 128\n{toml}')
    out = tmp_path / "out"
    for dry in (["--dry-run"], []):  # dry run first: before the fix a 10**12-bar set would really play
        code, err = run_cli(capsys, "run", str(scenario), "--fast", "--quiet", "--out", str(out), *flags, *dry)
        assert code == 2, (dry, err)
        assert err.startswith(f"bergain-actors: {expected}"), err
        assert len(err.strip().splitlines()) == 1, err
    assert not out.exists(), list(out.iterdir())


def test_valid_overrides_still_apply(capsys):
    code = main(["run", str(scenarios.DEFAULT_SCENARIO), "--dry-run", "--minutes", "600", "--seed", str(2**63 - 1)])
    out = capsys.readouterr().out
    assert code == 0
    assert '"minutes": 600.0' in out and f'"seed": {2**63 - 1}' in out and '"bars": null' in out


@pytest.mark.parametrize("seed", [2**63 - 1, -(2**63)])
def test_a_seed_takes_every_signed_64_bit_integer_as_the_readme_says(tmp_path, capsys, seed):
    """Both bounds, from the file and from the flag; the README states the same range the code accepts."""
    readme = (scenarios.PACKAGE_ROOT / "README.md").read_text()
    assert "a seed is a signed 64-bit integer, -2^63 to 2^63 - 1" in " ".join(readme.split())
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'sample_pack = "{PACK}"\nseed = {seed}\n')
    for flags in ([], ["--seed", str(seed)]):
        code = main(["run", str(scenario if not flags else scenarios.DEFAULT_SCENARIO), "--dry-run", *flags])
        out = capsys.readouterr().out
        assert code == 0 and f'"seed": {seed},' in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["samples", "--sample-rate", "0"], "--sample-rate: expected int >= 8000, got 0"),
        (["samples", "--sample-rate", "-5"], "--sample-rate: expected int >= 8000, got -5"),
        (["serve", "--port", "-1"], "--port: expected a port 0-65535, got -1"),
        (["serve", "--port", "70000"], "--port: expected a port 0-65535, got 70000"),
    ],
)
def test_other_flags_are_checked_and_named_as_typed(capsys, argv, expected):
    code, err = run_cli(capsys, *argv)
    assert code == 2 and err == f"bergain-actors: {expected}\n", err


@pytest.mark.parametrize("command", ["run", "what-if", "report"])
@pytest.mark.parametrize("under", [False, True], ids=["a-file", "under-a-file"])
def test_out_must_be_a_folder_and_the_error_says_so(tmp_path, capsys, command, under):
    existing = tmp_path / "taken.wav"
    existing.write_bytes(b"RIFF")
    out = existing / "sets" if under else existing
    log = str(Path(__file__).parent / "corpus" / "autopilot.bgnlog")
    argv = {
        "run": ["run", str(scenarios.DEFAULT_SCENARIO), "--fast", "--quiet", "--bars", "1"],
        "what-if": ["replay", log, "--swap", "critic=none"],
        "report": ["report", log],
    }[command]
    code, err = run_cli(capsys, *argv, "--out", str(out))
    blocker = existing if under else "that"
    assert (code, err) == (2, f"bergain-actors: --out {out}: must be a folder, and {blocker} is a file\n")
    assert existing.read_bytes() == b"RIFF" and list(tmp_path.iterdir()) == [existing]


UNMAKEABLE = Path("/proc/bergain-no-folder-here")
"""A folder no one can make, not even root: before, each command below failed late, several with a traceback."""


@pytest.mark.parametrize("command", ["run", "what-if", "report", "evaluate", "make-pack"])
def test_a_folder_that_cannot_be_made_is_refused_in_one_line_before_any_work(capsys, command):
    log = str(Path(__file__).parent / "corpus" / "autopilot.bgnlog")
    argv = {
        "run": ["run", str(scenarios.DEFAULT_SCENARIO), "--fast", "--quiet", "--bars", "1", "--out"],
        "what-if": ["replay", log, "--swap", "critic=none", "--out"],
        "report": ["report", log, "--out"],
        "evaluate": ["evaluate", "--brains", "autopilot", "--seeds", "1", "--minutes", "0.1", "--out"],
        "make-pack": ["make-pack"],
    }[command]
    code, err = run_cli(capsys, *argv, str(UNMAKEABLE))
    flag = "make-pack" if command == "make-pack" else "--out"
    assert code == 2 and err.startswith(f"bergain-actors: {flag} {UNMAKEABLE}: cannot make the folder: "), err
    assert len(err.splitlines()) == 1


def test_a_log_dir_that_cannot_be_made_names_the_scenario_key(tmp_path, capsys):
    text = scenarios.DEFAULT_SCENARIO.read_text().replace('log_dir = "../logs"', f'log_dir = "{UNMAKEABLE}"')
    scenario = tmp_path / "set.toml"
    scenario.write_text(text.replace('"../sample_pack"', f'"{scenarios.PACKAGE_ROOT / "sample_pack"}"'))
    code, err = run_cli(capsys, "run", str(scenario), "--fast", "--quiet", "--bars", "1")
    assert code == 2 and err.startswith(f"bergain-actors: set.toml: log_dir {UNMAKEABLE}: cannot make the folder"), err


def test_a_second_set_of_a_scenario_and_seed_in_the_same_second_plays_into_files_of_its_own(tmp_path, capsys):
    """Before, the second was refused ("...-seed7.bgnlog: File exists", exit 2): a script running short sets
    back to back lost some."""
    out = tmp_path / "out"
    out.mkdir()
    now = time.time()
    for ahead in range(120):  # every name the set may take by the time-stamp in the next two minutes is taken
        (out / f"autopilot-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now + ahead))}-seed7.bgnlog").touch()
    autopilot = scenarios.PACKAGE_ROOT / "scenarios" / "autopilot.toml"
    assert main(["run", str(autopilot), "--fast", "--quiet", "--bars", "1", "--no-report", "--out", str(out)]) == 0
    (log,) = out.glob("*-2.bgnlog")
    assert f"log          {log}\nwav          {log.with_suffix('.wav')}" in capsys.readouterr().out
    assert log.stat().st_size > 0 and log.with_suffix(".wav").stat().st_size > 0


def test_every_help_text_reads_as_printed():
    from bergain_actors.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        text = sub.format_help()
        assert "%%" not in text and "%(" not in text, (name, text)  # before: evaluate said "95 %% interval"
