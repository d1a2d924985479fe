"""The study command under real faults: a damaged or missing tuning database, a runs root that is a file, a full
disk while tuning, a trial that a setting stops, a stopped trial resumed from its checkpoint with its own seed --
each one line, nothing finished thrown away, nothing written outside the runs root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from gan_module.study import load_study
from gan_module.study.__main__ import main as study_main
from gan_module.study.runner import fit_and_test
from gan_module.study.tuning import open_study, tune_candidate
from tests.test_faults import small_disk  # noqa: F401  (a fixture: a real 40 MB tmpfs)
from tests.test_study_tuning import ROOT, counts, tuned_study


@pytest.fixture(autouse=True)
def from_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_a_truncated_tuning_database_is_one_line_naming_it_and_what_to_do(tmp_path, capsys):
    path, root = tuned_study(tmp_path, trials=1), tmp_path / "runs"
    study = load_study(path, root)
    tune_candidate(study, study.candidates()[0])
    database = study.layout.database
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 3])  # a copy cut short
    (study.layout.tuning("ns") / "best.json").unlink()  # so the tuning must read the storage again
    with pytest.raises(SystemExit) as stopped:
        study_main([str(path), "--runs-root", str(root)])
    assert stopped.value.code == 2
    line = one_error_line(capsys)
    assert f"The tuning database {database} cannot be read" in line and "restore it" in line


def test_a_missing_database_beside_trials_stops_instead_of_retraining_them(tmp_path, capsys):
    path, root = tuned_study(tmp_path, trials=1), tmp_path / "runs"
    study = load_study(path, root)
    tune_candidate(study, study.candidates()[0])
    (study.layout.tuning("ns") / "best.json").unlink()
    study.layout.database.unlink()
    trial = study.layout.trial("ns", 0).last_checkpoint
    before = trial.stat().st_mtime_ns
    with pytest.raises(SystemExit):
        study_main([str(path), "--runs-root", str(root)])
    assert "is missing, but" in one_error_line(capsys)
    assert trial.stat().st_mtime_ns == before and not study.layout.database.exists()  # nothing retrained or made


def test_an_unreachable_storage_names_host_and_port_never_the_password(tmp_path, capsys):
    path, root = tuned_study(tmp_path, trials=1), tmp_path / "runs"
    storage = "postgresql+psycopg://gan:s3cret-pw@127.0.0.1:1/studies"  # port 1: nothing listens
    with pytest.raises(SystemExit):
        study_main([str(path), "--runs-root", str(root), "--storage", storage])
    line = one_error_line(capsys)
    assert "127.0.0.1:1 cannot be used" in line and "s3cret" not in line


def test_a_runs_root_that_is_a_file_is_one_line(tmp_path, capsys):
    path = tuned_study(tmp_path, trials=1)
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(SystemExit) as stopped:
        study_main([str(path), "--runs-root", str(tmp_path / "runs"), "--no-report"])
    assert stopped.value.code in (1, 2)
    assert str(tmp_path / "runs") in one_error_line(capsys)


def test_a_trial_a_setting_stops_ends_the_tuning_in_one_line_never_counted(tmp_path, capsys):
    """A learning rate torch refuses parses (the pre-flight check passes) but stops the trial's fit: the tuning
    stops with the trial's own error line, and the trial is failed, not finished or pruned."""
    negative = {"adam": {"lr_g": {"keys": ["model.generator_optimizer.init_args.lr"], "low": -1.0, "high": -0.5}}}
    path, root = tuned_study(tmp_path, trials=2, spaces=negative), tmp_path / "runs"
    with pytest.raises(SystemExit) as stopped:
        study_main([str(path), "--runs-root", str(root)])
    assert stopped.value.code == 1
    line = one_error_line(capsys)
    assert "ns trial 0 failed (exit 2)" in line and "Invalid learning rate" in line and "run.log" in line
    study = load_study(path, root)
    assert counts(study) == {"complete": 0, "pruned": 0, "failed": 1}


def test_a_stopped_trial_resumes_from_its_checkpoint_with_its_own_seed(tmp_path):
    """A trial whose worker stopped after saving (SIGTERM, a killed job) is retried as its own continuation: the
    same settings, the same tuning seed, its run resumed from last.ckpt rather than trained again from zero."""
    path, root = tuned_study(tmp_path, trials=1, seeds=(0,)), tmp_path / "runs"
    spec = yaml.safe_load(path.read_text())
    spec["tune"]["seeds"] = [100, 101, 102]
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path, root)
    (candidate,) = study.candidates()
    ostudy = open_study(study, candidate)
    for _ in range(2):  # two trials done elsewhere, so the stopped one is trial 2: tuning seed 102
        ostudy.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED))
    stopped = ostudy.ask({"lr_g": optuna.distributions.FloatDistribution(1e-4, 3e-3, log=True)})
    run = study.layout.trial_folder("ns", stopped.number)
    from gan_module.study.runner import cli_args

    half = cli_args(study, candidate, 102, folder=run, budget=(2, None))  # half its budget, then stopped
    assert fit_and_test(half, tmp_path / "first.log") == 0
    first_rows = (study.layout.trial("ns", stopped.number).metrics).read_text().splitlines()
    spec["tune"]["trials"] = 3
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path, root)
    tune_candidate(study, candidate)
    trials = optuna.load_study(study_name="tuned/ns", storage=study.layout.storage_url()).trials
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == stopped.number)
    assert retry.user_attrs["seed"] == 102 and retry.params["lr_g"] == pytest.approx(stopped.params["lr_g"])
    resumed = study.layout.trial("ns", retry.number)
    assert resumed.metrics.read_text().splitlines()[: len(first_rows)] == first_rows  # continued, not retrained
    assert not study.layout.trial_folder("ns", stopped.number).exists()  # its folder became the retry's


@pytest.mark.slow
def test_a_study_whose_disk_fills_while_tuning_stops_in_one_line_then_finishes_exact(tmp_path, small_disk):  # noqa: F811
    """A real full disk (a 40 MB tmpfs nearly filled) during tuning: one error line, exit 1; once space is freed,
    the same command finishes with exactly the trials asked for."""
    path = tuned_study(tmp_path, trials=2)
    ballast = small_disk / "ballast"
    free = subprocess.run(["df", "--output=avail", "-B1", str(small_disk)], capture_output=True, text=True)
    ballast.write_bytes(b"\0" * (int(free.stdout.split()[-1]) - 200_000))  # leave 200 kB: a run writes more
    command = [sys.executable, "-m", "gan_module.study", str(path), "--runs-root", str(small_disk / "runs")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    err = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(err) == 1 and "No space left on device" in err[0], done.stderr[-2000:]
    ballast.unlink()
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-2000:]
    study = load_study(path, small_disk / "runs")
    assert counts(study)["complete"] + counts(study)["pruned"] == 2
    assert Path(small_disk / "runs" / "tuned" / "leaderboard.md").is_file()
