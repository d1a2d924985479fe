"""benchmarks/pruners.py: the simulated tunings behind the claims protocol's pruner (docs/study.md, "Which pruner")."""

from __future__ import annotations

import numpy as np

from benchmarks.pruners import RECIPE, STEPS, UNTRAINED, World, compare


def test_the_simulated_curves_cross_and_large_learning_rates_diverge():
    """The world the comparison rests on: a fast setting leads at a third of the budget and ends behind a slow one
    nearer the optimum; the chance of divergence grows with the learning rates."""
    world = World((-3.3, -3.3), {0.0: 0.0, 0.5: 0.0, 0.9: 0.0}, seed_sd=0.0, eval_sd=0.0)
    fast, slow = {"lr_g": 2e-3, "lr_d": 2e-3, "beta1": 0.5}, {"lr_g": 5e-4, "lr_d": 5e-4, "beta1": 0.5}
    third = STEPS.index(0.3)
    assert world.at_budget(fast)[third] < world.at_budget(slow)[third]
    assert world.at_budget(slow)[-1] < world.at_budget(fast)[-1]
    assert world.divergence(RECIPE) < world.divergence(slow) < world.divergence(fast)
    curve = world.curve(fast, np.random.default_rng(3))
    assert len(curve) == len(STEPS) and all(v <= UNTRAINED for v in curve)


def test_an_early_rung_prunes_the_best_setting_far_more_often_than_no_pruner_and_chooses_worse():
    found = compare(worlds=60, trials=8, names=["none", "ASHA from 1/6 (500)"])
    none, asha = found["none"], found["ASHA from 1/6 (500)"]
    assert none["best tried pruned"] < 0.2 < 0.4 < asha["best tried pruned"]
    assert none["chosen's quality"] < asha["chosen's quality"]
    assert asha["trials spent"] < none["trials spent"] <= 8
