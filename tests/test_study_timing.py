"""Cost timed alone (gan_module/study/timing.py): candidates interleaved in one process, read by the reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from gan_module.study import load_study
from gan_module.study.timing import QUIET, read_timing, time_candidates, time_study

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def from_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_rounds_alternate_the_order_so_a_drifting_load_reaches_every_candidate_alike():
    """A fake fit whose "machine" slows down by 1 s per fit: the ABC, CBA, ABC order gives every candidate the same
    mean slow-down, where timing each candidate's rounds in a row would have ranked them by when they ran."""
    order = []

    def fit(args: list[str]) -> None:
        folder = Path(next(a for a in args if a.startswith("--trainer.default_root_dir=")).split("=", 1)[1])
        name = args[0]
        order.append(name)
        assert "--evaluation.every_n_epochs=0" in args and "--budget.max_iterations=25" in args
        assert all(quiet in args for quiet in QUIET)
        watch = next(a for a in args if a.startswith("--trainer.callbacks+="))
        assert json.loads(watch.split("=", 1)[1])["init_args"] == {"warmup": 5}
        folder.mkdir(parents=True)
        (folder / "stopwatch.json").write_text(json.dumps({"iterations": 20, "seconds": float(len(order))}))

    found = time_candidates({"a": ["a"], "b": ["b"], "c": ["c"]}, iterations=20, rounds=4, warmup=5, fit=fit)
    assert order == ["a", "b", "c", "c", "b", "a", "a", "b", "c", "c", "b", "a"]
    assert found == {"a": [50.0, 300.0, 350.0, 600.0], "b": [100.0, 250.0, 400.0, 550.0],
                     "c": [150.0, 200.0, 450.0, 500.0]}  # fmt: skip
    assert {sum(v) for v in found.values()} == {1300.0}  # the drift shared out evenly


def test_a_study_is_timed_with_its_own_settings_and_the_reports_read_it(tmp_path):
    """Two tiny candidates, one round of 5 iterations after 2 (each a real fit in this process): timing.json in the
    study folder, seconds per 1,000 iterations per round, read back by read_timing (the claims' cost test and the
    pick read it)."""
    spec = {
        "name": "timed",
        "base": ["configs/mixtures/base.yaml"],
        "args": {"trainer.limit_train_batches": 5, "data.init_args.num_train": 2000},
        "seeds": [0],
        "budget": {"iterations": 4},
        "rank_by": {"metric": "eval/modes_500_high_quality", "mode": "max"},
        "axes": {"loss": {"ns": {}, "lsgan": {"config": "configs/losses/lsgan.yaml"}}},
    }
    (tmp_path / "timed.yaml").write_text(yaml.safe_dump(spec))
    study = load_study(tmp_path / "timed.yaml", tmp_path / "runs")
    assert read_timing(study) is None
    path = time_study(study, iterations=5, rounds=1, warmup=2)
    assert path == study.layout.timing
    measured = read_timing(study)
    assert set(measured) == {"ns", "lsgan"} and all(len(v) == 1 for v in measured.values())
    assert all(math.isfinite(s) and s > 0 for v in measured.values() for s in v)
    assert not (study.folder / "ns").exists()  # no run folder of the study was touched


def timed_study(folder: Path, name: str, timing: dict, args: dict | None = None, losses: tuple = ("ns",)) -> Path:
    """A study file of the mixtures' base, 5 iterations a run on one seed, timed by ``timing``."""
    spec = {
        "name": name,
        "base": ["configs/mixtures/base.yaml"],
        "args": {"trainer.limit_train_batches": 5, "evaluation.num_samples": 500, **(args or {})},
        "seeds": [0],
        "budget": {"iterations": 5},
        "rank_by": {"metric": "eval/modes_500_high_quality", "mode": "max"},
        "timing": timing,
        "axes": {"loss": {loss: {"config": f"configs/losses/{loss}.yaml"} if loss != "ns" else {} for loss in losses}},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_the_study_command_times_the_cost_once_every_run_is_done(tmp_path, capsys):
    """A study file's `timing:` key: `python -m gan_module.study` trains the runs, then times every candidate alone
    (its fits' output in logs/timing.log), once -- a second command reads timing.json as it is."""
    from gan_module.study.__main__ import main

    timing = {"rounds": 2, "iterations": 4, "warmup": 2}
    path = timed_study(tmp_path, "timed_cli", timing, {"data.init_args.num_train": 2000}, ("ns", "lsgan"))
    main([str(path), "--runs-root", str(tmp_path / "runs"), "--no-report"])
    study = load_study(path, tmp_path / "runs")
    measured = read_timing(study)
    assert set(measured) == {"ns", "lsgan"} and all(len(v) == 2 for v in measured.values())
    assert "cost timed alone" in capsys.readouterr().out
    assert study.layout.log("timing").is_file()
    stamp = study.layout.timing.stat().st_mtime_ns
    main([str(path), "--runs-root", str(tmp_path / "runs"), "--no-report"])
    assert study.layout.timing.stat().st_mtime_ns == stamp  # timed once


def test_a_timing_that_fails_is_one_line_and_keeps_the_runs(tmp_path, capsys):
    """A real failing timing (its fits stop at one epoch of 5 batches, inside the 10 warm-up iterations): one line
    naming the candidate, what to change and the log; exit 1; the study's runs are kept, nothing timed."""
    from gan_module.study.__main__ import main

    path = timed_study(tmp_path, "timed_fail", {"rounds": 1, "iterations": 4, "warmup": 10}, {"trainer.max_epochs": 1})
    with pytest.raises(SystemExit) as stop:
        main([str(path), "--runs-root", str(tmp_path / "runs"), "--no-report"])
    study = load_study(path, tmp_path / "runs")
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 1 and line.startswith("error: timing ns (round 1 of 1) failed")
    assert "lower `timing.warmup`" in line and str(study.layout.log("timing")) in line
    assert read_timing(study) is None and len(list(study.layout.root.glob("**/*.ckpt"))) >= 1


def test_a_timing_section_with_a_bad_value_is_one_line(tmp_path):
    from gan_module.errors import ConfigError

    path = timed_study(tmp_path, "timed_bad", {"rounds": 0})
    with pytest.raises(ConfigError, match=r"`timing.rounds` must be an integer >= 1, got 0"):
        load_study(path, tmp_path / "runs")
