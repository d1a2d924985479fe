"""gan_module/study/: grid expansion, study-file errors, aggregation over seeds, answers, resume, shipped studies."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
from pathlib import Path

import lightning as L
import pytest
import yaml

from gan_module.errors import ConfigError
from gan_module.names import ITERATIONS
from gan_module.study import finished_results, load_study, report
from gan_module.study import runner as study_runner
from gan_module.study.__main__ import main as study_main
from gan_module.study.answers import answer
from gan_module.study.criteria import NOTHING_COMPARED
from gan_module.study.leaderboard import aggregate, markdown_table
from gan_module.study.preflight import check_configs, covering_candidates
from gan_module.study.result import RunResult
from gan_module.study.sweep import sweep_yaml

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
        "metrics": ["eval/modes_500_captured_any"],
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
    assert "--data.init_args.seed=1" in args  # the seed also draws the data and its order
    assert "--sample_grid.at_end=true" in args  # a final sample image even when the budget ends between grids
    assert f"--trainer.default_root_dir={tmp_path / 'runs' / 'tiny' / 'grid-wgan_gp' / 'seed1'}" in args


def test_include_and_exclude_pick_a_subset(tmp_path):
    excluded = load_study(write_study(tmp_path, exclude=[{"data": "grid", "loss": "wgan_gp"}]))
    assert [c.name for c in excluded.candidates()] == ["ring-ns", "ring-wgan_gp", "grid-ns"]
    included = load_study(write_study(tmp_path, include=[{"loss": "ns"}]))
    assert [c.name for c in included.candidates()] == ["ring-ns", "grid-ns"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": [0]}, r"`seed` is not a key here"),
        ({"base": ["configs/nope.yaml"]}, "`base` names configs/nope.yaml, which does not exist"),
        ({"axes": {"loss": {"ns": {"config": "configs/nope.yaml"}}}}, "`axes.loss.ns.config` names configs/nope.yaml"),
        ({"axes": {"loss": {"ns": {"decision": {"los": "x"}}}}}, r"`axes.loss.ns.decision.los` is not a key here"),
        ({"seeds": [0, 0]}, r"`seeds` repeats \[0\]"),  # the same run would be counted twice
        ({"seeds": [0, True]}, "`seeds` must be an integer, got True"),
        ({"budget": {"iterations": -5}}, "`budget.iterations` must be an integer >= 1, got -5"),
        ({"name": "../../x"}, "`name` is '../../x': names become folders inside the runs root"),
        ({"axes": {"loss": {"../x": {}}}}, r"`axes.loss.../x` is '../x'"),
        ({"rank_by": {"metric": "x", "mode": "best"}}, "rank_by"),
        ({"exclude": [{"loss": "hinge"}]}, "do not exist"),
        ({"seeds": []}, "seeds"),
        ({"budget": {"steps": 3}}, "budget"),
    ],
)
def test_a_bad_study_file_is_one_clear_error(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_study(write_study(tmp_path, **change))


def test_a_misspelt_key_in_one_axis_value_stops_the_study_before_any_training(tmp_path, capsys):
    bad = {"ns": {}, "lsgan": {"config": "configs/losses/lsgan.yaml", "args": {"model.kk": 3}}}
    path = write_study(tmp_path, seeds=[0], axes={"loss": bad})
    with pytest.raises(SystemExit) as stopped:
        study_main([str(path), "--runs-root", str(tmp_path / "runs")])
    assert stopped.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: Study file") and "axes.loss.lsgan" in message and "--model.kk=3" in message
    assert len(message.splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # nothing trained, not even the valid ns candidate


# ----------------------------------------------------------------------------------------------- aggregation
def fabricated(candidate: str, seed: int, score: float, collapse: float, status: str = "done", **decision):
    data, loss = candidate.split("-")
    return RunResult(
        candidate=candidate,
        seed=seed,
        status=status,
        values={"data": data, "loss": loss},
        decision=decision,
        metrics={"eval/modes_500_high_quality": score, "eval/modes_500_captured_any": 8.0},
        stability={"mode_collapse": collapse, "vanishing_gradient": 0.0, "unstable_training": 0.0},
        iterations=4,
        run_seconds=2.0,
        training_seconds=2.0,
        iterations_per_second=2.0,
    )


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
    # the ranking column counts the diverged seed at its dataset's worst value (here grid-ns's own 0.5)
    assert grid["eval/modes_500_high_quality"] == pytest.approx(0.5)
    # the default spread: Student's t 95% interval of the mean (two seeds: 0.8 ± 12.71 x 0.1414 / sqrt(2))
    assert "| 1 | ring-wgan_gp | 0.8 [-0.471, 2.07] |" in markdown_table(study, rows)
    assert "| 1/2 [0.01, 0.99] |" in markdown_table(study, rows)  # grid-ns diverged once: the exact interval
    assert "| 2 | grid-ns | 0.5 [0.5, 0.5] (1 diverged) |" in markdown_table(study, rows)
    study.spread = "std"
    assert "| 1 | ring-wgan_gp | 0.8 ± 0.14 |" in markdown_table(study, rows)
    assert grid["eval/modes_500_high_quality se"] == 0.0  # one finite seed
    study.spread = "se"  # ± the standard error: 0.14 / sqrt(2)
    assert "| 1 | ring-wgan_gp | 0.8 ± 0.1 |" in markdown_table(study, rows) and "standard error" in markdown_table(
        study, rows
    )
    study.rank_mode = "min"
    assert [r["candidate"] for r in aggregate(study, results)] == ["ring-ns", "grid-ns", "ring-wgan_gp"]


def third_seed(results):
    """The ring's candidates on a third seed: two seeds never give a verdict (statistics.py)."""
    ns = {"loss": "non-saturating", "regularization": "none"}
    gp = {"loss": "Wasserstein", "regularization": "gradient penalty"}
    return [*results, fabricated("ring-ns", 2, 0.3, 0.4, **ns), fabricated("ring-wgan_gp", 2, 0.8, 0.0, **gp)]


def test_the_answers_group_runs_by_decision_and_context(tmp_path):
    study, results = fabricated_study(tmp_path)
    two_seeds = answer(study, results).split("## data = ring")[1].split("## data = grid")[0]
    assert "Wasserstein vs non-saturating: too few seeds (+0.5, 2 paired seeds; a verdict needs 3)" in two_seeds
    assert "Regularization helped" not in two_seeds
    text = answer(study, third_seed(results))
    ring = text.split("## data = ring")[1].split("## data = grid")[0]
    assert "**Which loss?** **Wasserstein** (Wasserstein 0.8 [0.552, 1.05]; non-saturating 0.3 [0.0516, 0.548])" in ring
    # every seed 0.5 ahead: the same difference on every seed, whose exact sign-flip p-value is 2^(1-3) = 0.25 (a
    # t-test has no spread to read, and p = 0 would be a lie): 3 seeds cannot call it
    same = "Wasserstein vs non-saturating: no detectable difference (+0.5, 95% CI [0.5, 0.5], p 0.25 Holm, 3 paired"
    assert same in ring and "Regularization helped" not in ring
    lead = [r if (r.candidate, r.seed) != ("ring-wgan_gp", 2) else fabricated(r.candidate, 2, 0.85, 0.0) for r in
            third_seed(results)]  # fmt: skip
    lead[-1].decision = {"loss": "Wasserstein", "regularization": "gradient penalty"}
    ring = answer(study, lead).split("## data = ring")[1].split("## data = grid")[0]
    assert "Wasserstein vs non-saturating: better (+0.517" in ring and "3 paired seeds (few)" in ring
    assert "Regularization helped: gradient penalty beats none." in ring
    assert "**Which architecture?** not varied in this study." in ring
    grid = text.split("## data = grid")[1]
    assert "**Which loss?** not varied in this study (every candidate: non-saturating)." in grid


def test_the_answers_compare_like_for_like_where_only_one_decision_differs(tmp_path):
    study, results = fabricated_study(tmp_path)
    dragan = {"loss": "non-saturating", "regularization": "DRAGAN penalty"}
    results = third_seed(results)
    results += [fabricated("ring-dragan", s, v, 0.0, **dragan) for s, v in enumerate((0.0, 0.1, 0.2))]
    ring = answer(study, results).split("## data = ring")[1].split("## data = grid")[0]
    regularization = next(line for line in ring.splitlines() if "regularization help" in line)
    # the groups mix losses (gradient penalty comes only with Wasserstein); the matched pair does not
    assert "**gradient penalty** (gradient penalty 0.8" in regularization
    like = regularization.split("Like for like (candidates differing in this decision only): ")[1]
    # ns 0.2, 0.4, 0.3 against DRAGAN 0.0, 0.1, 0.2: 0.2 apart on average, but 0.2, 0.3 and 0.1 on the seeds; the
    # smallest p of the family (the groups' constant lead reads p 0.25), so its interval is at the Holm level 0.975
    assert like.startswith("ring-ns vs ring-dragan: no detectable difference (+0.2, 0.975 CI (Holm) [-0.158, 0.558]")
    assert "ring-wgan_gp" not in like  # it differs from both in its loss too


# ----------------------------------------------------------------------------------------------- running
TINY_ARGS = {
    "trainer.enable_progress_bar": False,
    "trainer.enable_model_summary": False,
    "trainer.limit_train_batches": 2,
    "trainer.limit_val_batches": 0,
    "trainer.limit_test_batches": 2,
    "trainer.max_epochs": 100,
    "trainer.log_every_n_steps": 1,
    "data.init_args.batch_size": 32,
    "data.init_args.num_train": 2000,
    "evaluation.metrics": ["modes"],
    "evaluation.num_samples": 500,
    "evaluation.every_n_epochs": 1,
    "sample_grid.num_samples": 100,
    "sample_grid.every_n_epochs": 1000,  # only at_start and at_end
    "interpolation.every_n_epochs": 0,
}


class SigtermOnce(L.Callback):
    """SIGTERM after the given D step of the first run that gets there, as a cluster's time limit would send."""

    def __init__(self, marker: str, after_d_step: int = 3) -> None:
        self.marker, self.after_d_step = Path(marker), after_d_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.d_steps == self.after_d_step and not self.marker.exists():
            self.marker.touch()  # later runs and the resumed one are left alone
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_ci_sized_study_resumes_after_an_interruption_and_reports(tmp_path, monkeypatch):
    """2 candidates x 2 seeds, 4 iterations each; SIGTERM in the middle of the third run stops the study."""
    sigterm = {"class_path": "tests.test_study.SigtermOnce", "init_args": {"marker": str(tmp_path / "signalled")}}
    path = write_study(
        tmp_path,
        args=TINY_ARGS,
        axes={
            "loss": {
                "ns": {"decision": {"loss": "non-saturating", "regularization": "none"}},
                "lsgan": {
                    "config": "configs/losses/lsgan.yaml",
                    "args": {"trainer.callbacks+": sigterm},
                    "decision": {"loss": "least squares", "regularization": "none"},
                },
            }
        },
    )
    root = tmp_path / "runs"
    with pytest.raises(SystemExit) as stopped:
        study_main([str(path), "--runs-root", str(root)])
    assert stopped.value.code == 143  # the study stops with the run, as the cluster asked
    study = load_study(path, root)
    assert [(r.candidate, r.seed) for r in finished_results(study)] == [("ns", 0), ("ns", 1)]
    assert (root / "tiny" / "lsgan" / "seed0" / "version_0" / "checkpoints" / "last.ckpt").is_file()
    assert not (root / "tiny" / "lsgan" / "seed1").exists()
    # the interrupted attempt's wall clock is kept, so the resumed run's s/run covers both attempts
    interrupted = json.loads((root / "tiny" / "lsgan" / "seed0" / "run_seconds.json").read_text())["seconds"]
    assert interrupted > 0

    calls = []
    real_fit = study_runner.fit_and_test
    monkeypatch.setattr(study_runner, "fit_and_test", lambda args, log: calls.append(args) or real_fit(args, log))
    study_main([str(path), "--runs-root", str(root)])
    # the finished runs are skipped, the interrupted one resumes from its checkpoint, the last one starts; each
    # is one call (fit, then test in the same CLI)
    assert len(calls) == 2
    assert "--ckpt_path=last" in calls[0] and "--seed_everything=0" in calls[0]
    assert not any(a.startswith("--ckpt_path") for a in calls[1]) and "--seed_everything=1" in calls[1]

    results = finished_results(study)
    assert len(results) == 4 and all(r.status == "done" and r.iterations == 4 for r in results)
    for r in results:  # tested as `main.py test` would: metrics in <run>/test/, from the final checkpoint
        run = root / "tiny" / r.candidate / f"seed{r.seed}" / "version_0"
        assert (run / "test" / "metrics.csv").is_file() and "eval/modes_500_high_quality" in r.metrics
        assert 0 < r.training_seconds < r.run_seconds
        assert r.iterations_per_second == pytest.approx(4 / r.training_seconds)
    assert all(r.curve and r.samples.endswith("iter_00000004.png") for r in results)  # the final samples
    ns0, ns1 = (Path(r.samples).read_bytes() for r in results[:2])
    assert ns0 != ns1  # two seeds, two different generators
    written = report(study)
    assert all(p is not None and p.is_file() for p in written.values())
    with open(written["leaderboard.csv"], newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(r["candidate"] for r in rows) == ["lsgan", "ns"] and {r["seeds"] for r in rows} == {"2"}
    ranked = [float(r["eval/modes_500_high_quality"]) for r in rows]
    assert ranked == sorted(ranked, reverse=True)  # best first
    assert "**Which loss?**" in written["answers.md"].read_text()
    assert "the study lacks role `ralsgan`" in written["claims.md"].read_text()  # ns and lsgan only


def test_jobs_start_workers_that_share_the_runs_and_the_cpu(tmp_path, monkeypatch):
    started = []

    class Worker:
        def __init__(self, command, env, start_new_session, stdout, stderr):
            assert start_new_session  # the parent alone gets a terminal's Ctrl-C, and passes it on once
            assert stdout is stderr and Path(stdout.name).name.startswith("worker")  # its messages: its log
            started.append((command, env))

        def poll(self) -> int:
            return 0

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(study_runner.subprocess, "Popen", Worker)
    monkeypatch.setattr(study_runner.os, "cpu_count", lambda: 4)
    study = load_study(write_study(tmp_path), tmp_path / "runs")
    study_runner.run_parallel(study, 2, tmp_path / "runs")
    shards = [command[command.index("--shard") + 1] for command, _ in started]
    assert shards == ["0/2", "1/2"] and all(env["OMP_NUM_THREADS"] == "2" for _, env in started)
    assert all("--no-report" in command for command, _ in started)  # the parent reports once, at the end


# ----------------------------------------------------------------------------------------------- shipped studies
@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_shipped_studies_expand_and_their_sweeps_are_current(path):
    study = load_study(path.relative_to(ROOT))
    if "smoke" not in path.stem:  # a smoke study only checks the machinery
        # a contest (>= 4 candidates), one recipe's seed distribution (>= 10 seeds, its worst seed meaningful), or
        # with and without one component (one axis of two values: limited_fashion's DiffAugment)
        with_without = len(study.axes) == 1 and len(study.candidates()) == 2
        assert len(study.seeds) >= 3 and (len(study.candidates()) >= 4 or len(study.seeds) >= 10 or with_without)
    sweep = path.with_suffix(".sweep.yaml")
    assert sweep.read_text() == sweep_yaml(study), f"regenerate {sweep.name} with --wandb-sweep"


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_every_value_of_a_shipped_study_parses(path):
    study = load_study(path.relative_to(ROOT))
    covering = covering_candidates(study)  # enough candidates to try every axis value once
    assert {v for _, new in covering for v in new} == {(a, v) for a, values in study.axes.items() for v in values}
    check_configs(study)  # raises ConfigError naming the value that does not parse


def test_the_mixtures_study_covers_every_loss():
    study = load_study("configs/studies/mixtures.yaml")
    losses = set(study.axes["loss"])
    shipped = {p.stem for p in (ROOT / "configs" / "losses").glob("*.yaml")}
    assert losses == shipped | {"ns"}  # the base's non-saturating loss and every loss fragment
    assert set(study.axes["data"]) == {"ring", "grid"} and len(study.seeds) >= 3


def test_a_rank_metric_that_no_run_would_log_stops_the_study_before_training(tmp_path):
    """With evaluation.num_samples 1000 the runs log eval/modes_1k_*, not the 2500-sample names the file ranks by."""
    path = write_study(
        tmp_path,
        rank_by={"metric": "eval/modes_2500_high_quality", "mode": "max"},
        metrics=[],
        args={"evaluation.num_samples": 1000},
    )
    study = load_study(path, tmp_path / "runs")
    with pytest.raises(ConfigError, match="never logs eval/modes_2500_high_quality") as err:
        check_configs(study)
    assert "did you mean eval/modes_1k_high_quality?" in str(err.value)
    check_configs(load_study(write_study(tmp_path, args={"evaluation.num_samples": 500}), tmp_path / "runs"))


def test_a_damaged_result_or_checkpoint_is_named_in_one_line_and_that_run_done_again(tmp_path, capsys):
    """A truncated result.json (a crash while writing, before writes were atomic) and an unreadable last.ckpt in
    an unfinished run: each is named in one line, the study goes on, and both runs end as an intact study does."""
    path = write_study(tmp_path, args=TINY_ARGS, seeds=[0, 1], axes={"loss": {"ns": {"decision": {"loss": "ns"}}}})
    root = tmp_path / "runs"
    study_main([str(path), "--runs-root", str(root), "--no-report"])
    # two seeds: said before the runs, in one line, that no comparison will get a verdict
    (said,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note: 2 seeds")]
    assert "'too few seeds'" in said and "at least 3" in said
    study = load_study(path, root)
    before = {r.seed: r.metrics for r in finished_results(study)}
    seed0, seed1 = root / "tiny" / "ns" / "seed0", root / "tiny" / "ns" / "seed1"
    (seed0 / "result.json").write_text((seed0 / "result.json").read_text()[:50])  # truncated
    (seed1 / "result.json").unlink()  # unfinished, and its checkpoint damaged
    (seed1 / "version_0" / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    capsys.readouterr()

    assert [r.seed for r in finished_results(study)] == []  # --report: the damaged result is named, not a crash
    assert f"warning: {seed0 / 'result.json'} is damaged (JSONDecodeError" in capsys.readouterr().err
    study_main([str(path), "--runs-root", str(root), "--no-report"])
    err = capsys.readouterr().err
    assert f"{seed1 / 'version_0' / 'checkpoints' / 'last.ckpt'} cannot be read; kept as" in err
    assert len(list(seed1.parent.glob("seed1.damaged-*"))) == 1  # the evidence is kept beside
    after = {r.seed: r.metrics for r in finished_results(study)}
    assert after == before  # the resumed run and the restarted one end as they first did


def test_decision_labels_are_read_from_the_study_file_so_relabelling_needs_no_run(tmp_path, capsys):
    """An axis whose values carry no `decision:` is a context, compared within, never across; labelling it after
    the runs makes the report compare its values, on the stored runs."""
    axes = {"augment": {"none": {}, "ls": {"config": "configs/losses/lsgan.yaml"}}}
    path = write_study(tmp_path, args=TINY_ARGS, seeds=[0], axes=axes)
    root = tmp_path / "runs"
    study_main([str(path), "--runs-root", str(root), "--no-report"])
    assert NOTHING_COMPARED in capsys.readouterr().out  # said before the runs
    assert {r.decision.get("loss") for r in finished_results(load_study(path, root))} == {None}
    axes["augment"]["none"]["decision"] = {"loss": "non-saturating"}
    axes["augment"]["ls"]["decision"] = {"loss": "least squares"}
    path = write_study(tmp_path, args=TINY_ARGS, seeds=[0], axes=axes)
    stamps = {p: p.stat().st_mtime_ns for p in root.glob("**/result.json")}
    relabelled = finished_results(load_study(path, root))
    assert sorted(r.decision["loss"] for r in relabelled) == ["least squares", "non-saturating"]
    assert {p: p.stat().st_mtime_ns for p in root.glob("**/result.json")} == stamps  # nothing re-run or rewritten


# ------------------------------------------------------------------------------- one writer per study run
def concurrency_study(tmp_path: Path) -> Path:
    """2 seeds x 2 candidates, 60 iterations each: long enough to stop a worker mid-run."""
    args = TINY_ARGS | {"trainer.limit_train_batches": 10, "evaluation.every_n_epochs": 3}
    axes = {"loss": {"ns": {"decision": {"loss": "ns"}}, "lsgan": {"config": "configs/losses/lsgan.yaml"}}}
    return write_study(tmp_path, args=args, axes=axes, budget={"iterations": 60})


def study_process(path: Path, root: Path, *flags: str):
    import subprocess
    import sys

    command = [sys.executable, "-m", "gan_module.study", str(path), "--runs-root", str(root), "--no-report", *flags]
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # what --jobs gives: the same arithmetic
    cwd = Path(__file__).resolve().parent.parent
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)


def outcome(path: Path, root: Path) -> dict:
    """What a study's runs measured, and how many times each was trained (version folders, rows per step)."""
    study = load_study(path, root)
    found = {}
    for r in finished_results(study):
        folder = root / "tiny" / r.candidate / f"seed{r.seed}"
        rows = csv.DictReader((folder / "version_0" / "metrics.csv").open())
        progress = [float(row[ITERATIONS]) for row in rows if row.get(ITERATIONS)]
        found[(r.candidate, r.seed)] = (r.metrics, r.iterations, sorted(p.name for p in folder.glob("version_*")))
        assert progress == sorted(set(progress)), "a training step logged twice: two writers"
    return found


def workers_alive(path: Path) -> list[str]:
    return [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p).count(str(path))]


def _cmdline(process: Path) -> str:
    try:
        return (process / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
def test_two_copies_of_a_study_and_a_sigterm_to_its_parent_give_one_uninterrupted_studys_results(tmp_path):
    import time

    path = concurrency_study(tmp_path)
    assert study_process(path, tmp_path / "straight").wait(timeout=600) == 0
    expected = outcome(path, tmp_path / "straight")
    assert len(expected) == 4 and all(v[2] == ["version_0"] for v in expected.values())

    # two copies at once (two array tasks given the same index, or a second terminal): each run trained once
    twice = tmp_path / "twice"
    copies = [study_process(path, twice), study_process(path, twice)]
    assert [c.wait(timeout=600) for c in copies] == [0, 0]
    assert outcome(path, twice) == expected
    said = (twice / "tiny" / "logs" / "study.log").read_text()  # the copies' own lines, beside their progress lines
    assert "another worker (process" in said  # one copy left a run to the other and waited for it

    # SIGTERM to the parent only (a scheduler stopping the job): it passes it on and exits after its workers
    stopped = tmp_path / "stopped"
    parent = study_process(path, stopped, "--jobs", "2")
    deadline = time.monotonic() + 300
    while not any(stopped.glob("tiny/*/seed*/version_0/checkpoints/last.ckpt")) and time.monotonic() < deadline:
        time.sleep(0.2)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=300) == 143
    assert workers_alive(path) == []  # no orphans left training
    assert study_process(path, stopped, "--jobs", "2").wait(timeout=600) == 0  # the same command again
    assert outcome(path, stopped) == expected
