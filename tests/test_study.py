"""gan_module/study/: grid expansion, study-file errors, aggregation over seeds, answers, resume, shipped studies."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from gan_module.errors import ConfigError
from gan_module.study import finished_results, load_study, report
from gan_module.study import runner as study_runner
from gan_module.study.__main__ import main as study_main
from gan_module.study.answers import answer
from gan_module.study.leaderboard import aggregate, markdown_table
from gan_module.study.sweep import sweep_yaml
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
STUDIES = sorted((ROOT / "configs" / "studies").glob("*.yaml"))
STUDIES = [p for p in STUDIES if not p.name.endswith(".sweep.yaml")]


def write_study(tmp_path: Path, **overrides) -> Path:
    spec = {
        "name": "tiny",
        "base": ["configs/mixtures/base.yaml"],
        "seeds": [0, 1],
        "budget": {"iterations": 4},
        "rank_by": {"metric": "eval/modes_500_high_quality", "mode": "max"},
        "metrics": ["eval/modes_500_captured"],
        "axes": {
            "data": {"ring": {}, "grid": {"config": "configs/mixtures/grid.yaml"}},
            "loss": {
                "ns": {"decision": {"loss": "non-saturating", "regularization": "none"}},
                "wgan_gp": {
                    "config": "configs/losses/wgan_gp.yaml",
                    "args": {"model.k": 2},
                    "decision": {"loss": "Wasserstein", "regularization": "gradient penalty"},
                },
            },
        },
    }
    spec.update(overrides)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))  # axis order is candidate order
    return path


@pytest.fixture(autouse=True)
def from_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)  # study files name configs relative to where the command runs


# ----------------------------------------------------------------------------------------------- expansion
def test_the_candidates_are_the_product_of_the_axes_with_their_configs_args_and_decisions(tmp_path):
    study = load_study(write_study(tmp_path), tmp_path / "runs")
    names = [c.name for c in study.candidates()]
    assert names == ["ring-ns", "ring-wgan_gp", "grid-ns", "grid-wgan_gp"]
    grid_gp = study.candidate("grid-wgan_gp")
    assert grid_gp.configs == ("configs/mixtures/grid.yaml", "configs/losses/wgan_gp.yaml")
    assert dict(grid_gp.decision) == {"loss": "Wasserstein", "regularization": "gradient penalty"}
    assert len(study.runs()) == 8 and study.runs()[1] == (study.candidate("ring-ns"), 1)
    args = study_runner.cli_args(study, grid_gp, 1)
    files = ["configs/mixtures/base.yaml", "configs/mixtures/grid.yaml", "configs/losses/wgan_gp.yaml"]
    assert args[:6] == [part for f in files for part in ("--config", f)]  # base first, then the axes in order
    assert "--model.k=2" in args and "--seed_everything=1" in args and "--budget.max_iterations=4" in args
    assert f"--trainer.default_root_dir={tmp_path / 'runs' / 'tiny' / 'grid-wgan_gp' / 'seed1'}" in args


def test_include_and_exclude_pick_a_subset(tmp_path):
    excluded = load_study(write_study(tmp_path, exclude=[{"data": "grid", "loss": "wgan_gp"}]))
    assert [c.name for c in excluded.candidates()] == ["ring-ns", "ring-wgan_gp", "grid-ns"]
    included = load_study(write_study(tmp_path, include=[{"loss": "ns"}]))
    assert [c.name for c in included.candidates()] == ["ring-ns", "grid-ns"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": [0]}, r"unknown keys \['seed'\]"),
        ({"base": ["configs/nope.yaml"]}, "no such config file configs/nope.yaml"),
        ({"rank_by": {"metric": "x", "mode": "best"}}, "rank_by"),
        ({"exclude": [{"loss": "hinge"}]}, "do not exist"),
        ({"seeds": []}, "seeds"),
        ({"budget": {"steps": 3}}, "budget"),
    ],
)
def test_a_bad_study_file_is_one_clear_error(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_study(write_study(tmp_path, **change))


# ----------------------------------------------------------------------------------------------- aggregation
def fabricated(candidate: str, seed: int, score: float, collapse: float, status: str = "done", **decision) -> dict:
    data, loss = candidate.split("-")
    return {
        "candidate": candidate,
        "seed": seed,
        "status": status,
        "values": {"data": data, "loss": loss},
        "decision": decision,
        "metrics": {"eval/modes_500_high_quality": score, "eval/modes_500_captured": 8.0},
        "stability": {"mode_collapse": collapse, "vanishing_gradient": 0.0, "unstable_training": 0.0},
        "curve": [],
        "iterations": 4,
        "fit_seconds": 2.0,
        "iterations_per_second": 2.0,
    }


def fabricated_study(tmp_path):
    study = load_study(write_study(tmp_path), tmp_path / "runs")
    ns = {"loss": "non-saturating", "regularization": "none"}
    gp = {"loss": "Wasserstein", "regularization": "gradient penalty"}
    results = [
        fabricated("ring-ns", 0, 0.2, 0.5, **ns),
        fabricated("ring-ns", 1, 0.4, 0.3, **ns),
        fabricated("ring-wgan_gp", 0, 0.7, 0.0, **gp),
        fabricated("ring-wgan_gp", 1, 0.9, 0.0, **gp),
        fabricated("grid-ns", 0, 0.5, 0.0, **ns),
        fabricated("grid-ns", 1, math.nan, math.nan, status="diverged", **ns),
    ]
    return study, results


def test_the_leaderboard_gives_mean_and_spread_over_seeds_ranked_by_the_metric(tmp_path):
    study, results = fabricated_study(tmp_path)
    rows = aggregate(study, results)
    assert [r["candidate"] for r in rows] == ["ring-wgan_gp", "grid-ns", "ring-ns"]  # max first; grid-wgan_gp: no runs
    best, grid, ring = rows
    assert best["eval/modes_500_high_quality"] == pytest.approx(0.8)
    assert best["eval/modes_500_high_quality std"] == pytest.approx(math.sqrt(0.02))  # sample std of 0.7, 0.9
    assert ring["issue/mode_collapse"] == pytest.approx(0.4)
    assert grid["diverged"] == 1 and grid["seeds"] == 2
    assert grid["eval/modes_500_high_quality"] == pytest.approx(0.5)  # the diverged seed has no score
    assert "| 1 | ring-wgan_gp | 0.8 ± 0.14 |" in markdown_table(study, rows)
    study.rank_mode = "min"
    assert [r["candidate"] for r in aggregate(study, results)] == ["ring-ns", "grid-ns", "ring-wgan_gp"]


def test_the_answers_group_runs_by_decision_and_context(tmp_path):
    study, results = fabricated_study(tmp_path)
    text = answer(study, results)
    ring = text.split("## data = ring")[1].split("## data = grid")[0]
    assert "**Which loss?** **Wasserstein** (Wasserstein 0.8" in ring
    assert "Regularization helped: gradient penalty beats none." in ring
    assert "**Which architecture?** not varied in this study." in ring
    grid = text.split("## data = grid")[1]
    assert "**Which loss?** not varied in this study (every candidate: non-saturating)." in grid


# ----------------------------------------------------------------------------------------------- running
TINY_ARGS = {
    "trainer.enable_progress_bar": False,
    "trainer.enable_model_summary": False,
    "trainer.limit_train_batches": 2,
    "trainer.limit_val_batches": 0,
    "trainer.max_epochs": 100,
    "trainer.log_every_n_steps": 1,
    "data.init_args.batch_size": 32,
    "evaluation.metrics": ["modes"],
    "evaluation.num_samples": 500,
    "evaluation.every_n_epochs": 1,
    "sample_grid.num_samples": 100,
    "interpolation.every_n_epochs": 0,
}


@pytest.mark.slow
def test_an_interrupted_study_resumes_and_reports(tmp_path, monkeypatch):
    signal_in_lsgan = {
        "trainer.callbacks+": {
            "class_path": "tests.test_preemption.SendSignal",
            "init_args": {"name": "SIGTERM", "after_d_step": 3},
        }
    }
    path = write_study(
        tmp_path,
        seeds=[0],
        args=TINY_ARGS,
        axes={
            "loss": {
                "ns": {"decision": {"loss": "non-saturating"}},
                "lsgan": {
                    "config": "configs/losses/lsgan.yaml",
                    "args": signal_in_lsgan,  # a cluster's SIGTERM in the middle of this run
                    "decision": {"loss": "least squares"},
                },
            }
        },
    )
    root = tmp_path / "runs"
    with pytest.raises(SystemExit) as stopped:
        study_main([str(path), "--runs-root", str(root)])
    assert stopped.value.code == 143
    study = load_study(path, root)
    assert [r["candidate"] for r in finished_results(study)] == ["ns"]
    assert (root / "tiny" / "lsgan" / "seed0" / "version_0" / "checkpoints" / "last.ckpt").is_file()

    calls = []
    real_main = study_runner._main
    monkeypatch.setattr(study_runner, "_main", lambda args: calls.append(args) or real_main(args))
    study_main([str(path), "--runs-root", str(root)])
    assert [a[0] for a in calls] == ["fit", "test"]  # only the interrupted run ran again...
    assert "--ckpt_path=last" in calls[0]  # ...from its checkpoint
    results = {r["candidate"]: r for r in finished_results(study)}
    assert results["lsgan"]["iterations"] == results["ns"]["iterations"] == 4  # the budget, across the resume
    assert results["ns"]["curve"] and all(v >= 0 for _, v in results["ns"]["curve"])
    written = report(study)
    assert all(p is not None and p.is_file() for p in written.values())
    leaderboard = written["leaderboard.md"].read_text()
    assert "ns" in leaderboard and "lsgan" in leaderboard and "1/1" not in leaderboard  # none diverged
    assert json.loads((root / "tiny" / "ns" / "seed0" / "result.json").read_text())["status"] == "done"


# ----------------------------------------------------------------------------------------------- shipped studies
@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_shipped_studies_expand_and_their_sweeps_are_current(path):
    study = load_study(path.relative_to(ROOT))
    assert len(study.candidates()) >= 6 and len(study.seeds) >= 3
    sweep = path.with_suffix(".sweep.yaml")
    assert sweep.read_text() == sweep_yaml(study), f"regenerate {sweep.name} with --wandb-sweep"


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_every_value_of_a_shipped_study_parses(path, capsys):
    study = load_study(path.relative_to(ROOT))
    covered: set[tuple[str, str]] = set()
    for candidate in study.candidates():  # enough candidates to try every axis value once
        if set(candidate.values) <= covered:
            continue
        covered |= set(candidate.values)
        with pytest.raises(SystemExit) as done:
            run_cli("fit", *study_runner.cli_args(study, candidate, study.seeds[0]), "--print_config")
        assert done.value.code == 0, candidate.name
    capsys.readouterr()


def test_the_mixtures_study_covers_every_loss():
    study = load_study("configs/studies/mixtures.yaml")
    losses = set(study.axes["loss"])
    shipped = {p.stem for p in (ROOT / "configs" / "losses").glob("*.yaml")}
    assert losses == shipped | {"ns"}  # the base's non-saturating loss and every loss fragment
    assert set(study.axes["data"]) == {"ring", "grid"} and len(study.seeds) >= 3
