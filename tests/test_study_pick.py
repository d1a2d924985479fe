"""The pick (gan_module/study/application.py, pick.py): fixed scales, P(best), failure risk and weight ranges,
on simulated studies whose truth is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from gan_module.study import load_study
from gan_module.study.answers import answer
from gan_module.study.application import choose, seed_scores
from gan_module.study.pick import failures, headline, p_best, weight_ranges, weight_share
from gan_module.study.result import RunResult

ROOT = Path(__file__).resolve().parent.parent
QUALITY, DIVERSITY = "eval/modes_2500_high_quality", "eval/modes_2500_reverse_kl"
IDEAL = 0.9888910034617577  # a perfect generator's high-quality share under the 3-sigma rule


@pytest.fixture(autouse=True)
def from_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


def pick_study(tmp_path: Path, names=("a", "b", "weak"), **overrides):
    spec = {
        "name": "pick",
        "base": ["configs/mixtures/base.yaml"],
        "seeds": list(range(5)),
        "rank_by": {"metric": QUALITY, "mode": "max"},
        "diversity": {"metric": DIVERSITY, "mode": "min"},
        "application": {"quality": 0.5, "diversity": 0.3, "cost": 0.2},
        "axes": {"gan": {name: {"decision": {"loss": name}} for name in names}},  # one context: decisions
    } | overrides
    (tmp_path / "pick.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_study(tmp_path / "pick.yaml", tmp_path / "runs")


def runs_of(rng, name: str, quality: float, kl: float, seconds: float, seeds: int = 5, diverged=()) -> list:
    """A candidate's runs: quality and reverse KL with a little seed noise, all started untrained at quality 0 and
    reverse KL 2; ``seconds`` per iteration on the runs' own clocks."""
    found = []
    for seed in range(seeds):
        metrics = {QUALITY: quality + rng.normal(0, 0.01), DIVERSITY: kl + rng.normal(0, 0.005)}
        status = "diverged" if seed in diverged else "done"
        found.append(
            RunResult(
                name, seed, status, values={"gan": name}, metrics={} if status == "diverged" else metrics,
                untrained={QUALITY: 0.0, DIVERSITY: 2.0}, iterations=1000, training_seconds=1000 * seconds,
                seconds_per_iteration=seconds, run_seconds=1000 * seconds + 5,
            )
        )  # fmt: skip
    return found


def time_them(study, seconds: dict[str, float], noise: float, rng, rounds: int = 5) -> None:
    measured = {n: [1000 * s * (1 + rng.normal(0, noise)) for _ in range(rounds)] for n, s in seconds.items()}
    study.folder.mkdir(parents=True, exist_ok=True)
    (study.folder / "timing.json").write_text(json.dumps({"seconds_per_1000": measured}))


def test_a_weak_candidate_added_to_the_pool_changes_no_other_score_nor_the_pick(tmp_path):
    """Scaled between each candidate's untrained level and the metric's ideal (cost in log seconds), a score is a
    function of the candidate's own runs: a weak newcomer used to stretch the pool's 0-1 range and flip the pick."""
    rng = np.random.default_rng(0)
    study = pick_study(tmp_path)
    # a: better quality, b: better diversity and cheaper; weak: poor quality and diversity, as cheap as b
    pool = runs_of(rng, "a", 0.80, 0.20, 0.010) + runs_of(rng, "b", 0.70, 0.05, 0.008)
    weak = runs_of(rng, "weak", 0.10, 1.50, 0.008)
    before, after = seed_scores(study, pool), seed_scores(study, pool + weak)
    assert before == {name: after[name] for name in before}
    assert choose(study, pool).winner == choose(study, pool + weak).winner == "b"
    # the scale: quality 0.8 is 81% of the way from untrained (0) to a perfect generator (0.989)
    a = before["a"][(0, 0)]
    quality, kl = pool[0].metrics[QUALITY] / IDEAL, 1 - pool[0].metrics[DIVERSITY] / 2.0
    assert a == pytest.approx(0.5 * quality + 0.3 * kl + 0.2 * -np.log2(10.0))


def test_one_percent_timing_noise_on_equal_costs_does_not_split_the_pick():
    """Equal true costs, 1% timing noise: with each criterion scaled to the pool's 0-1 range the noise became a
    full-scale cost difference and split the pick 36/64; on log seconds it moves a score by ~0.003 and the
    better-quality candidate is picked in every simulated study. Two candidates equal in everything split
    P(best) near evenly and each is the other's runner-up: a tie reads as a tie."""
    import tempfile

    picks, tied_chance, runner_up = [], [], 0
    with tempfile.TemporaryDirectory() as scratch:
        for trial in range(60):
            rng = np.random.default_rng(trial)
            folder = Path(scratch) / str(trial)
            folder.mkdir()
            study = pick_study(folder, names=("a", "b"), application={"quality": 0.5, "cost": 0.5})
            time_them(study, {"a": 0.01, "b": 0.01}, 0.01, rng)
            runs = runs_of(rng, "a", 0.73, 0.1, 0.01) + runs_of(rng, "b", 0.70, 0.1, 0.01)
            picks.append(choose(study, runs).winner)
            equal = runs_of(rng, "a", 0.70, 0.1, 0.01) + runs_of(rng, "b", 0.70, 0.1, 0.01)
            pick = choose(study, equal)
            tied_chance.append(p_best(pick.per_run)["a"])
            runner_up += [c.b for c in pick.runners_up] == ["b" if pick.winner == "a" else "a"]
    assert picks.count("a") == 60
    assert 0.3 <= np.mean(tied_chance) <= 0.7
    assert runner_up >= 54  # not detectably lower but at the comparison's 5% level (the timing's noise counted)


def test_p_best_resamples_tunings_and_seeds():
    """Two tunings each: a candidate ahead on both of its tunings is best in every draw; one whose tunings
    disagree (one lucky, one not) is best only sometimes."""
    steady = {(t, s): 1.1 + 0.01 * s for t in range(2) for s in range(3)}
    lucky = {(0, s): 1.5 for s in range(3)} | {(1, s): 0.6 for s in range(3)}
    found = p_best({"steady": steady, "lucky": lucky})
    assert 0.2 <= found["lucky"] <= 0.3  # a quarter of the draws take its lucky tuning twice
    assert found["steady"] == pytest.approx(1 - found["lucky"])
    assert p_best({"a": {0: 1.0, 1: 1.0}, "b": {0: 1.0, 1: 1.0}}) == {"a": 0.5, "b": 0.5}  # ties split evenly


def test_failure_risk_counts_diverged_runs_and_missed_targets_with_the_exact_interval(tmp_path):
    study = pick_study(tmp_path, targets=[{"metric": QUALITY, "at_least": 0.75}])
    rng = np.random.default_rng(1)
    runs = runs_of(rng, "a", 0.80, 0.2, 0.01, diverged=(3,)) + runs_of(rng, "b", 0.70, 0.2, 0.01)
    risk = failures(study, runs)
    assert (risk["a"].count, risk["a"].n) == (1, 5) and (risk["b"].count, risk["b"].n) == (5, 5)
    assert risk["a"].high == pytest.approx(0.7164, abs=1e-3)  # Clopper-Pearson, 1 of 5


def test_the_weights_where_the_pick_stays_best_and_the_sentence_answers_md_opens_with(tmp_path):
    """a samples better, b is four times cheaper: a wins while quality weighs enough, b once cost does."""
    rng = np.random.default_rng(2)
    study = pick_study(tmp_path, names=("a", "b"), application={"quality": 0.9, "cost": 0.1})
    runs = runs_of(rng, "a", 0.90, 0.1, 0.02) + runs_of(rng, "b", 0.50, 0.1, 0.005)
    assert choose(study, runs).winner == "a"
    ranges = weight_ranges(study, runs, ["a", "b"], "a")
    # quality 0.91 vs 0.51 of the scale, cost 2 halvings apart: a wins while w_q 0.40 > (1 - w_q) 2 (diversity 0)
    assert ranges["quality"][0] == pytest.approx(0.83, abs=0.02) and ranges["quality"][1] == 1.0
    assert ranges["cost"] == (0.0, pytest.approx(0.17, abs=0.02))
    share = weight_share(study, runs, ["a", "b"])
    # uniform weightings of quality, diversity (equal here) and cost: a wins where w_q 0.405 > 2 w_c, P = 1 / 5.9
    assert share["a"] + share["b"] == pytest.approx(1.0) and share["a"] == pytest.approx(1 / (1 + 2 / 0.405), abs=0.03)
    sentence = headline(study, runs, "all runs")
    assert sentence.startswith("**all runs: use a** -- P(best) 1.00") and "a run fails 0/5 [0.00, 0.52]" in sentence
    assert "quality weight 0.84-1.00, diversity weight 0.00-0.99, cost weight 0.00-0.16" in sentence
    assert sentence.endswith("on 17% of all weightings.")
    text = answer(study, runs)
    assert text.split("\n")[2] == sentence  # answers.md opens with the pick
