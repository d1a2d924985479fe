"""gan_module/study/tune_spec.py, tuning.py, learning.py: the tune section, equal tuning with Optuna (exact trial
counts, resume after a killed worker, the chosen settings in the reporting runs, PostgreSQL), curve labels."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import yaml

from gan_module.errors import ConfigError
from gan_module.study import finished_results, load_study
from gan_module.study.__main__ import main as study_main
from gan_module.study.console import study_status
from gan_module.study.learning import (
    FELL_BACK,
    NOT_STARTED,
    SETTLED,
    SHORT,
    STILL_LEARNING,
    area_under_curve,
    curve_state,
    iterations_to,
)
from gan_module.study.result import RunResult
from gan_module.study.runner import read_best
from gan_module.study.tune_spec import load_tune, settings_of
from gan_module.study.tuning import tune_candidate, tuning_summary, write_tuning

ROOT = Path(__file__).resolve().parent.parent
SPACES = "configs/studies/tune/spaces.yaml"
QUALITY = "eval/modes_500_high_quality"


@pytest.fixture(autouse=True)
def from_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


def tuned_study(tmp_path: Path, trials: int = 3, seeds=(0,), **tune) -> Path:
    """A tiny tuned study on the ring: one candidate, a few iterations per run, evaluated every 2 iterations."""
    spec = {
        "name": "tuned",
        "base": ["configs/mixtures/base.yaml"],
        "seeds": list(seeds),
        "budget": {"iterations": 6},
        "rank_by": {"metric": QUALITY, "mode": "max"},
        "args": {
            "trainer.limit_train_batches": 2,
            "trainer.limit_val_batches": 0,
            "trainer.max_epochs": 100,
            "evaluation.metrics": ["modes"],
            "evaluation.num_samples": 500,
            "evaluation.every_n_epochs": 1,
            "sample_grid.every_n_epochs": 0,
            "interpolation.every_n_epochs": 0,
            "trainer.enable_progress_bar": False,
            "trainer.enable_model_summary": False,
        },
        "tune": {
            **({"trials": trials} if trials else {}),
            "seeds": [100, 101],
            "sampler": {"class_path": "optuna.samplers.RandomSampler", "init_args": {"seed": 1}},
            "default_first": False,  # the tests of trial counting sample every trial (see the own recipe's test)
            "spaces": SPACES,
            "default_space": "adam",
            **tune,
        },
        "axes": {"gan": {"ns": {"decision": {"loss": "non-saturating"}}}},
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def counts(study, storage: str | None = None) -> dict[str, int]:
    (row,) = tuning_summary(study, storage)
    return {k: row[k] for k in ("complete", "pruned", "failed")}


# ------------------------------------------------------------------------------------------------ the section
def test_the_tune_section_reads_spaces_extends_templates_and_common_parameters():
    raw = {
        "trials": 4,
        "seeds": [100],
        "spaces": SPACES,
        "default_space": "adam",
        "common": {"ema_decay": {"keys": ["model.ema.init_args.decay"], "choices": [0.99, 0.999]}},
    }
    tune = load_tune(raw, "Study file x", reporting_seeds=[0, 1])
    wgan = {p.name: p for p in tune.space("wgan_gp")}
    assert set(wgan) == {"lr_g", "lr_d", "beta1", "penalty_weight", "k", "ema_decay"}  # extends, twice, + common
    assert wgan["beta1"].settings(0.5) == {
        "model.generator_optimizer.init_args.betas": [0.5, 0.9],  # wgan_gp's own beta1 replaces adam's
        "model.discriminator_optimizer.init_args.betas": [0.5, 0.9],
    }
    penalty = wgan["penalty_weight"].settings(3.0)["model.regularizers"]
    assert penalty == [{"class_path": "gan_module.regularizers.GradientPenalty", "init_args": {"weight": 3.0}}]
    assert [p.name for p in tune.space(None)] == ["lr_g", "lr_d", "beta1", "ema_decay"]  # the default space
    params = {"lr_g": 1e-3, "k": 5}
    assert settings_of(tune.space("wgan_gp"), params) == {
        "model.generator_optimizer.init_args.lr": 1e-3,
        "model.k": 5,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": [0, 100]}, r"share \[0\]"),  # a tuning seed that is also reported
        ({"trials": 0}, "`tune.trials` must be an integer >= 1, got 0"),
        ({"trials": True}, "`tune.trials` must be an integer >= 1, got True"),  # a bool is not a count
        ({"seeds": [100, 100]}, r"`tune.seeds` repeats \[100\]"),
        ({"budget": {"iterations": -5}}, "`tune.budget.iterations` must be an integer >= 1, got -5"),
        ({"sampler": {"name": "grid"}}, r"`tune.sampler` is \{class_path: optuna.samplers"),  # the old form
        ({"pruner": {"name": "median"}}, r"`tune.pruner` is \{class_path: optuna.pruners"),
        (
            {
                "pruner": {
                    "class_path": "optuna.pruners.SuccessiveHalvingPruner",
                    "init_args": {"reduction_factor": "two"},
                }
            },
            "`tune.pruner.reduction_factor` must be an integer, got two",
        ),
        ({"default_space": "nope"}, "`tune.default_space` 'nope'"),
        ({"spaces": {"a": {"lr": {"keys": ["x"], "low": 1.0, "high": 0.5}}}}, "`low` < `high`"),
        ({"spaces": {"a": {"extends": "b"}, "b": {"extends": "a"}}}, "extends itself"),
        ({"spaces": {"a": {"lr": {"keys": ["x"], "low": 0.0, "high": 1.0, "log": True}}}}, "low > 0"),
    ],
)
def test_a_bad_tune_section_is_one_clear_error(change, message):
    raw = {"trials": 2, "seeds": [100], "spaces": SPACES} | change
    with pytest.raises(ConfigError, match=message):
        load_tune(raw, "Study file x", reporting_seeds=[0])


def test_an_axis_value_naming_an_unknown_space_stops_the_study_file(tmp_path):
    path = tuned_study(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["axes"]["gan"]["ns"]["space"] = "adamw"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"spaces \['adamw'\]"):
        load_study(path)


def test_a_space_key_that_main_py_rejects_stops_the_study_before_any_trial(tmp_path, capsys):
    path = tuned_study(tmp_path, spaces={"adam": {"lr": {"keys": ["model.lrr"], "low": 1e-4, "high": 1e-3}}})
    with pytest.raises(SystemExit) as stopped:
        study_main([str(path), "--runs-root", str(tmp_path / "runs")])
    assert stopped.value.code == 2
    assert "tune.spaces.adam" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "tuned" / "tuning").exists()


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"lr": 1e-3}, r"`tune.enqueue\[0\]` names \['lr'\], which the space 'adam' does not tune"),
        ({"lr_g": 0.5}, r"`tune.enqueue\[0\].lr_g` is 0.5, outside \[0.0001, 0.003\]"),
        ({"beta1": 0.7}, r"`tune.enqueue\[0\].beta1` is 0.7, outside \(0.0, 0.5, 0.9\)"),
    ],
)
def test_an_enqueued_point_outside_the_space_stops_the_study_file(tmp_path, point, message):
    with pytest.raises(ConfigError, match=message):
        load_study(tuned_study(tmp_path, enqueue=[point]))


# ------------------------------------------------------------------------------------------------ tuning
def test_tuning_runs_exactly_the_trials_then_reports_with_the_chosen_settings_and_resumes_without_repeats(tmp_path):
    path, root = tuned_study(tmp_path, trials=3), tmp_path / "runs"
    study_main([str(path), "--runs-root", str(root)])
    study = load_study(path, root)
    (candidate,) = study.candidates()
    assert counts(study) == {"complete": 3, "pruned": 0, "failed": 0}
    best = read_best(study, candidate)
    loaded = optuna.load_study(study_name="tuned/ns", storage=study.layout.storage_url())
    assert best.trial == loaded.best_trial.number and best.value == pytest.approx(loaded.best_value)
    assert best.settings["model.generator_optimizer.init_args.lr"] == pytest.approx(best.params["lr_g"])
    # trials ran on the tuning seeds, never on the reporting seed
    assert sorted(t.user_attrs["seed"] for t in loaded.trials) == [100, 100, 101]
    assert all(t.user_attrs["cpu_seconds"] > 0 for t in loaded.trials)
    (result,) = finished_results(study)
    assert result.seed == 0 and result.settings == best.settings  # the reporting run trained with them
    config = yaml.safe_load((root / "tuned" / "ns" / "seed0" / "version_0" / "config.yaml").read_text())
    assert config["model"]["generator_optimizer"]["init_args"]["lr"] == pytest.approx(best.params["lr_g"])
    table = (root / "tuned" / "tuning.md").read_text()
    assert "| ns | adam | lr_g=" in table and "| 3 | 0 | 0 | 18 | 18 |" in table  # 3 trials x 6 iterations, k = 1
    recipe = (root / "tuned" / "recipes.md").read_text()  # the full recipe: configs, settings, the tuned ones
    assert "`configs/mixtures/base.yaml`" in recipe and "- `trainer.limit_train_batches`: `2`" in recipe
    assert f"- tuned `model.generator_optimizer.init_args.lr`: `{best.params['lr_g']:.4g}`" in recipe
    mtimes = {p: p.stat().st_mtime for p in (root / "tuned").rglob("*.json")}
    study_main([str(path), "--runs-root", str(root)])  # the same command again: nothing is repeated
    assert counts(study) == {"complete": 3, "pruned": 0, "failed": 0}
    assert {p: p.stat().st_mtime for p in mtimes} == mtimes


def test_enqueued_points_are_the_first_trials_and_the_rest_are_sampled(tmp_path):
    """A shipped recipe's settings enqueued: trial 0 trains exactly them (unnamed parameters sampled), trial 1 is
    the sampler's own, and the trial count stays the budget."""
    shipped = {"lr_g": 1.23e-3, "beta1": 0.9}
    path, root = tuned_study(tmp_path, trials=2, enqueue=[shipped]), tmp_path / "runs"
    study = load_study(path, root)
    (candidate,) = study.candidates()
    tune_candidate(study, candidate)
    first, second = optuna.load_study(
        study_name=study.layout.optuna_name(candidate.name), storage=study.layout.storage_url()
    ).trials
    assert first.params["lr_g"] == pytest.approx(1.23e-3) and first.params["beta1"] == 0.9
    assert 1e-4 <= first.params["lr_d"] <= 3e-3  # not named: sampled
    assert second.params["lr_g"] != pytest.approx(1.23e-3)
    assert counts(study) == {"complete": 2, "pruned": 0, "failed": 0}
    config = yaml.safe_load((study.layout.trial(candidate.name, 0).root / "config.yaml").read_text())
    assert config["model"]["generator_optimizer"]["init_args"]["lr"] == pytest.approx(1.23e-3)
    assert config["model"]["generator_optimizer"]["init_args"]["betas"] == [0.9, 0.999]


def test_trial_0_trains_the_candidates_own_recipe_and_tuning_keeps_it_when_no_trial_beats_it(tmp_path):
    """Tuning cannot end below the recipe as shipped: trial 0 trains it (no tuned setting), best.json holds its
    score beside the chosen one, and when it scores best nothing is tuned."""
    path, root = tuned_study(tmp_path, trials=2, default_first=True), tmp_path / "runs"
    study = load_study(path, root)
    (candidate,) = study.candidates()
    best = tune_candidate(study, candidate)
    own, sampled = optuna.load_study(
        study_name=study.layout.optuna_name(candidate.name), storage=study.layout.storage_url()
    ).trials
    assert own.params == {} and own.user_attrs["own_recipe"] and own.user_attrs["settings"] == study.tune.args
    assert set(sampled.params) == {"lr_g", "lr_d", "beta1"}
    config = yaml.safe_load((study.layout.trial(candidate.name, 0).root / "config.yaml").read_text())
    assert config["model"]["generator_optimizer"]["init_args"]["lr"] == pytest.approx(1e-3)  # base.yaml's own
    assert best.default_value == pytest.approx(own.value)
    assert best.kept_default == (own.value >= sampled.value)  # the ring's high-quality share: higher is better
    assert best.value == max(own.value, sampled.value)
    space = study.tune.space(None)
    chosen = {p.name: p.decode(sampled.params[p.name]) for p in space}
    assert best.settings == ({} if best.kept_default else settings_of(space, chosen))


def test_replicated_tuning_nests_each_reporting_seed_in_one_tuning(tmp_path):
    """Two independent tunings, each on its share of the tuning seeds; reporting seed 0 trains with tuning 0's
    choice and seed 1 with tuning 1's (runs nested in tunings: the statistics count tuning luck)."""
    path, root = tuned_study(tmp_path, trials=1, seeds=(0, 1), replicates=2), tmp_path / "runs"
    study_main([str(path), "--runs-root", str(root)])
    study = load_study(path, root)
    (candidate,) = study.candidates()
    assert study.tune.seeds_of(0) == [100] and study.tune.seeds_of(1) == [101]
    chosen = [read_best(study, candidate, r) for r in (0, 1)]
    assert (root / "tuned" / "tuning" / "ns@tuning1" / "best.json").is_file()
    trials = [
        optuna.load_study(study_name=f"tuned/{name}", storage=study.layout.storage_url()).trials
        for name in ("ns", "ns@tuning1")
    ]
    assert [t.user_attrs["seed"] for t in trials[0]] == [100] and [t.user_attrs["seed"] for t in trials[1]] == [101]
    results = {r.seed: r for r in finished_results(study)}
    assert (results[0].tuning, results[1].tuning) == (0, 1)
    assert results[0].settings == chosen[0].settings and results[1].settings == chosen[1].settings
    table = (root / "tuned" / "tuning.md").read_text()
    assert "2 independent tunings of each candidate" in table and "| ns@tuning1 |" in table
    status = study_status(study)  # the progress line's count: 2 tunings x 1 trial + 2 runs, all done
    assert status()[:2] == (4, 4) and status()[2].startswith("leader ns (")


def test_the_tuning_budget_is_counted_in_d_steps_as_well_as_generator_iterations(tmp_path):
    """k = 3 D steps a generator iteration: tuning.md counts 2 trials x 6 iterations and 3 times as many D steps."""
    path, root = tuned_study(tmp_path, trials=2, args={"model.k": 3}), tmp_path / "runs"
    study_main([str(path), "--runs-root", str(root), "--no-report"])
    study = load_study(path, root)
    (row,) = tuning_summary(study)
    assert (row["iterations"], row["d_steps"]) == (12, 36)
    # recorded as each trial ended: the report reads them without the trials' checkpoints
    trials = optuna.load_study(study_name=study.layout.optuna_name("ns"), storage=study.layout.storage_url()).trials
    assert [(t.user_attrs["iterations"], t.user_attrs["d_steps"]) for t in trials] == [(6, 18), (6, 18)]
    for trial in trials:
        study.layout.trial("ns", trial.number).last_checkpoint.unlink()
    (row,) = tuning_summary(study)
    assert (row["iterations"], row["d_steps"]) == (12, 36)


def test_replicates_must_share_the_seeds_equally(tmp_path):
    with pytest.raises(ConfigError, match="`seeds` has 3 seeds, which 2 tuning replicates cannot share equally"):
        load_study(tuned_study(tmp_path, seeds=(0, 1, 2), replicates=2))


def test_a_trial_whose_worker_died_is_failed_and_retried_with_its_settings_never_counted_twice(tmp_path):
    path, root = tuned_study(tmp_path, trials=2), tmp_path / "runs"
    study = load_study(path, root)
    (candidate,) = study.candidates()
    from gan_module.study.tuning import open_study

    dead = open_study(study, candidate).ask({"lr_g": optuna.distributions.FloatDistribution(1e-4, 3e-3, log=True)})
    study.layout.trial_folder(candidate.name, dead.number).mkdir(parents=True)  # it had started; its lock is free now
    tune_candidate(study, candidate)
    trials = optuna.load_study(
        study_name=study.layout.optuna_name(candidate.name), storage=study.layout.storage_url()
    ).trials
    states = [t.state for t in trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1 and counts(study)["complete"] == 2
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == dead.number)
    assert retry.params["lr_g"] == pytest.approx(dead.params["lr_g"])  # the same settings, tried again


def test_the_pruner_stops_a_trial_at_an_evaluation_and_the_trial_is_not_tested(tmp_path):
    path = tuned_study(
        tmp_path,
        trials=3,
        pruner={
            "class_path": "optuna.pruners.SuccessiveHalvingPruner",
            "init_args": {"min_resource": 2, "reduction_factor": 2},
        },
    )
    root = tmp_path / "runs"
    study = load_study(path, root)
    (candidate,) = study.candidates()

    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return trial.number == 1 and len(trial.intermediate_values) >= 1

    from gan_module.study import tuning

    real_open = tuning.open_study

    def with_pruner(*args, **kwargs):
        opened = real_open(*args, **kwargs)
        opened.pruner = AlwaysPrune()
        return opened

    tuning.open_study, saved = with_pruner, tuning.open_study
    try:
        tune_candidate(study, candidate)
    finally:
        tuning.open_study = saved
    assert counts(study) == {"complete": 2, "pruned": 1, "failed": 0}
    pruned = study.layout.trial(candidate.name, 1).root
    assert (pruned / "checkpoints" / "last.ckpt").is_file() and not (pruned / "test").exists()
    assert read_best(study, candidate).trial in (0, 2)  # a finished trial is chosen, never the pruned one


def test_the_candidates_own_recipe_is_never_pruned(tmp_path, monkeypatch):
    """A pruner that stops every trial at its first evaluation: the own recipe (trial 0) still runs to the end and
    is scored (on MNIST, ASHA once stopped it beside a trial running in parallel, leaving no recipe score)."""
    path, root = tuned_study(tmp_path, trials=2, default_first=True), tmp_path / "runs"
    study = load_study(path, root)
    (candidate,) = study.candidates()

    class PruneAll(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return len(trial.intermediate_values) >= 1

    from gan_module.study import tuning

    real_open = tuning.open_study

    def with_pruner(*args, **kwargs):
        opened = real_open(*args, **kwargs)
        opened.pruner = PruneAll()
        return opened

    monkeypatch.setattr(tuning, "open_study", with_pruner)
    best = tune_candidate(study, candidate)
    assert counts(study) == {"complete": 1, "pruned": 1, "failed": 0}
    assert best.kept_default and best.default_value is not None and best.value == best.default_value


def _kill_all_when(ready, pattern: str, process: subprocess.Popen) -> None:
    """SIGKILL the study's parent and every worker (all name ``pattern``, the study file) once ``ready()``."""
    deadline = time.time() + 240
    while time.time() < deadline and not ready():
        time.sleep(0.2)
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    for pid in [process.pid, *(int(p) for p in found)]:
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.kill(pid, signal.SIGKILL)
    process.wait()


def test_kill_9_half_way_then_the_same_command_finishes_without_repeating_trials_or_runs(tmp_path):
    path, root = tuned_study(tmp_path, trials=4, seeds=(0, 1)), tmp_path / "runs"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    command = [sys.executable, "-m", "gan_module.study", str(path), "--jobs", "2", "--runs-root", str(root)]
    command += ["--storage", storage, "--no-report"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    study = load_study(path, root)
    (candidate,) = study.candidates()

    def some_trial_done() -> bool:
        found = list((root / "tuned" / "tuning" / "ns").glob("trial*/version_0/test"))
        return bool(found)

    _kill_all_when(some_trial_done, str(path), first)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[done.stderr.find("Traceback") :][:3000]  # the first worker's fault
    assert counts(study, storage)["complete"] + counts(study, storage)["pruned"] == 4  # exact, whatever was killed
    assert len(finished_results(study)) == 2
    assert read_best(study, candidate) is not None


def _postgres_bin() -> Path | None:
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@pytest.fixture
def postgres(tmp_path):
    """A PostgreSQL server of its own, in a temporary folder (initdb + pg_ctl), on a free local port."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb is not installed (apt install postgresql): the PostgreSQL test needs it")
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed (pip install 'psycopg[binary]')")
    # in /tmp itself: pytest's own temporary folders are private to their owner, and as root the server runs as
    # another user
    holder = Path(tempfile.mkdtemp(prefix="gan-postgres-"))
    holder.chmod(0o755)
    data = holder / "pg"
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
            pytest.skip("running as root without a `postgres` user to start the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    # the server's output to a log file: a server holding the pipes of subprocess.run would keep it waiting
    log = data / "server.log"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(log),
        "-o",
        f"-p {port} -k {data} -h 127.0.0.1",
        "-w",
        "start",
    )
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "optuna")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/optuna"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(holder, ignore_errors=True)


def test_two_workers_share_a_postgresql_storage_and_run_exactly_the_trials(tmp_path, postgres):
    path, root = tuned_study(tmp_path, trials=4), tmp_path / "runs"
    command = [sys.executable, "-m", "gan_module.study", str(path), "--runs-root", str(root), "--storage", postgres]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    workers = [  # two SLURM-like array tasks, each the same reporting run's worker
        subprocess.Popen([*command, "--index", "0"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=400)
        assert worker.returncode == 0, err[-2000:]
    study = load_study(path, root)
    assert counts(study, postgres) == {"complete": 4, "pruned": 0, "failed": 0}
    loaded = optuna.load_study(study_name="tuned/ns", storage=postgres)
    assert len(loaded.trials) == 4 and len(finished_results(study)) == 1
    assert not (root / "tuned" / "optuna.db").exists()  # nothing went to the default SQLite file


# ------------------------------------------------------------------------------------------------ curves
def _runs(curves: dict[int, list[float]]) -> list[RunResult]:
    return [
        RunResult("c", seed, curve=[(100 * (i + 1), v) for i, v in enumerate(values)], seconds_per_iteration=0.01)
        for seed, values in curves.items()
    ]


def test_curves_are_read_as_not_started_still_learning_or_settled():
    flat = {s: [0.01 + 0.001 * ((i + s) % 3) for i in range(10)] for s in range(5)}
    assert curve_state(_runs(flat), margin=0.05) == NOT_STARTED
    rising = {s: [0.05 * i + 0.01 * s for i in range(10)] for s in range(5)}
    assert curve_state(_runs(rising), margin=0.05) == STILL_LEARNING
    plateau = {s: [min(0.1 * i, 0.6) + 0.01 * ((i * 7 + s) % 3) for i in range(10)] for s in range(5)}
    assert curve_state(_runs(plateau), margin=0.05) == SETTLED
    assert curve_state(_runs({s: v[:5] for s, v in rising.items()}), margin=0.05) == SHORT
    # learned, then collapsed: it started (its half-way read is far above its first), and its end is what a user
    # of this budget gets
    fell = {s: [0.01, 0.2, 0.4, 0.6, 0.7, 0.7, 0.5, 0.3, 0.1, 0.02 + 0.01 * s] for s in range(5)}
    assert curve_state(_runs(fell), margin=0.05) == FELL_BACK
    assert curve_state(_runs({s: [0.0] * 10 for s in range(5)}), margin=0.05) == NOT_STARTED  # no noise at all
    # FID-like, lower is better: a flat noisy curve has not started, a falling one has
    noisy = {s: [300 + 3 * ((i * 5 + s) % 4) for i in range(10)] for s in range(5)}
    assert curve_state(_runs(noisy), higher_is_better=False, margin=25) == NOT_STARTED
    falling = {s: [300 - 30 * min(i, 6) + s for i in range(10)] for s in range(5)}
    assert curve_state(_runs(falling), higher_is_better=False, margin=25) == SETTLED


def test_the_area_under_the_curve_and_the_iterations_to_a_threshold():
    (run,) = _runs({0: [0.0, 0.5, 1.0]})  # at iterations 100, 200, 300
    assert area_under_curve(run) == pytest.approx(0.5)
    (early,) = _runs({0: [1.0, 1.0, 1.0]})
    assert area_under_curve(early) == pytest.approx(1.0)  # same end, reached sooner: a larger area
    assert iterations_to(run, 0.5) == 200 and iterations_to(run, 2.0) == float("inf")
    assert iterations_to(run, 0.4, higher_is_better=False) == 100


def test_a_shared_tune_protocol_is_read_from_its_file_and_keys_beside_it_override(tmp_path):
    path = tuned_study(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["tune"] = {"from": "configs/studies/tune/claims.yaml", "trials": 2}
    spec["threshold"] = 0.5
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path)
    assert study.tune.trials == 2 and study.tune.seeds == [100, 101]  # the override, and the file's own
    assert [p.name for p in study.tune.space(None)][-1] == "ema_decay" and study.threshold == 0.5
    spec["threshold"] = "half"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="`threshold` must be a number, got half"):
        load_study(path)


def test_the_leaderboard_shows_each_candidates_curve_state_area_threshold_and_cost_per_d_step(tmp_path):
    from gan_module.study.leaderboard import aggregate, markdown_table

    path = tuned_study(tmp_path, seeds=(0, 1, 2))
    spec = yaml.safe_load(path.read_text())
    spec["threshold"] = 0.5
    spec["rank_by"] = {"metric": QUALITY, "mode": "max"}
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path)
    runs = _runs({s: [0.1 * i + 0.01 * s for i in range(10)] for s in range(3)})  # still rising at the end
    for run in runs:
        run.candidate, run.metrics = "ns", {QUALITY: run.curve[-1][1]}
        run.training_seconds, run.iterations, run.d_steps = 10.0, 1000, 5000
    (row,) = aggregate(study, runs)
    assert row["curve"] == STILL_LEARNING and row["seconds_per_d_step"] == pytest.approx(0.002)
    assert row["iterations_to_threshold"] == 600 and row["reached"] == 3  # 0.5 first reached at the 6th point
    table = markdown_table(study, [row])
    assert "| still learning |" in table and "600 (3/3)" in table and "| 2 |" in table  # 2 ms per D step


def test_the_leaderboard_shows_the_worst_seed_and_the_share_of_seeds_reaching_each_target(tmp_path):
    from gan_module.study.leaderboard import aggregate, markdown_table

    path = tuned_study(tmp_path, seeds=(0, 1, 2))
    spec = yaml.safe_load(path.read_text())
    spec["targets"] = [{"metric": QUALITY, "at_least": 0.5, "where": {"gan": "ns"}}]
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path)
    assert QUALITY in study.metrics and study.targets[0].label == "modes_500_high_quality >= 0.5 (ns)"
    runs = [RunResult("ns", seed, metrics={QUALITY: value}) for seed, value in ((0, 0.9), (1, 0.4), (2, 0.7))]
    (row,) = aggregate(study, runs)
    assert (row["worst"], row["worst_seed"]) == (0.4, 1) and row[study.targets[0].label] == 2
    assert "| 0.4 (seed 1) | 2/3 [" in markdown_table(study, [row])
    runs[2].metrics = {}  # a diverged seed is the worst, and reaches nothing
    (row,) = aggregate(study, runs)
    assert row["worst_seed"] == 2 and row[study.targets[0].label] == 1
    spec["targets"] = [{"metric": QUALITY, "at_least": 0.5, "where": {"gan": "wgan"}}]
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="`targets` names axis values that do not exist"):
        load_study(path)


def test_every_runs_row_is_written_with_whether_that_seed_reached_each_target(tmp_path):
    from gan_module.study.result import DIVERGED
    from gan_module.study.seeds import write_runs

    path = tuned_study(tmp_path, seeds=(0, 1, 2))
    spec = yaml.safe_load(path.read_text())
    spec["targets"] = [{"metric": QUALITY, "at_least": 0.5}]
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path, tmp_path / "runs")
    runs = [RunResult("ns", seed, metrics={QUALITY: value}) for seed, value in ((2, 0.7), (0, 0.9), (1, 0.4))]
    runs.append(RunResult("ns", 3, status=DIVERGED))
    csv_path, md_path = write_runs(study, runs)
    with open(csv_path, newline="") as file:
        rows = list(csv.DictReader(file))
    label = study.targets[0].label
    assert [(r["seed"], r["status"], r[label]) for r in rows] == [
        ("0", "done", "yes"),
        ("1", "done", "no"),
        ("2", "done", "yes"),
        ("3", DIVERGED, "no"),
    ]
    assert float(rows[1][QUALITY]) == 0.4 and rows[3][QUALITY] == "nan"
    table = md_path.read_text()
    assert "| ns | 1 | done | 0.4 | no |" in table and "| ns | 3 | diverged | – | no |" in table


def test_the_reaper_leaves_a_trial_that_finished_between_reading_the_list_and_taking_its_lock(tmp_path):
    from gan_module.study.tuning import _reap, open_study

    study = load_study(tuned_study(tmp_path), tmp_path / "runs")
    (candidate,) = study.candidates()
    opened = open_study(study, candidate)
    trial = opened.ask()
    stale = opened.get_trials(deepcopy=True)  # read while it runs ...
    opened.tell(trial, 0.5)  # ... then its worker finishes it and lets go of its lock

    class StaleFirstRead:
        def __init__(self, real):
            self.real, self.reads = real, 0

        def get_trials(self, deepcopy=False, states=None):
            self.reads += 1
            return stale if self.reads == 1 else self.real.get_trials(deepcopy=deepcopy, states=states)

        def __getattr__(self, name):
            return getattr(self.real, name)

    _reap(StaleFirstRead(opened), study, candidate.name)  # raised "Cannot tell a COMPLETE trial" before the fix
    assert [t.state for t in opened.get_trials()] == [optuna.trial.TrialState.COMPLETE]


def test_the_progress_count_of_a_study_not_started_is_zero_and_creates_no_storage(tmp_path):
    path, root = tuned_study(tmp_path, trials=3, seeds=(0, 1)), tmp_path / "runs"
    study = load_study(path, root)
    assert study_status(study)() == (0, 3 + 2, "no finished run yet")
    assert not study.layout.database.exists()


def test_trials_in_proportion_to_the_search_space(tmp_path):
    """`trials_per_parameter: 1`: a candidate tuned in the adam space (3 parameters) gets 3 trials, one in the
    gradient-penalty space (4) gets 4; the progress line counts them; giving both counts, or neither, is one line."""
    path, root = tuned_study(tmp_path, trials=None, trials_per_parameter=1), tmp_path / "runs"
    spec = yaml.safe_load(path.read_text())
    spec["axes"]["gan"]["ns_gp"] = {"space": "gradient_penalty", "decision": {"regularization": "gradient penalty"}}
    path.write_text(yaml.safe_dump(spec))
    study = load_study(path, root)
    plain, penalised = study.candidates()
    assert (study.tune.trials_for(plain.space), study.tune.trials_for(penalised.space)) == (3, 4)
    tune_candidate(study, penalised)
    assert study_status(study)()[:2] == (4, 3 + 4 + 2)  # its 4 trials done, of 7 trials and 2 runs
    assert "1 trial a parameter per tuning" in write_tuning(study).read_text()
    for both in ({"trials": 2, "trials_per_parameter": 1}, {}):
        spec["tune"] = {
            **{k: v for k, v in spec["tune"].items() if k not in ("trials", "trials_per_parameter")},
            **both,
        }
        path.write_text(yaml.safe_dump(spec))
        with pytest.raises(ConfigError, match=r"give `tune.trials` .* or `tune.trials_per_parameter`"):
            load_study(path, root)
