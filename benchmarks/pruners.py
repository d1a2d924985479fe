"""``python -m benchmarks.pruners``: which pruner keeps the good settings of a short tuning (issue 41, item 2).

A tuning of a few trials is cheap only if its pruner stops the bad settings and not the good ones. Early in a
GAN's run the curves are mostly noise, and the settings that learn fastest (large learning rates) are not the
ones that end best, so a rung set early keeps the lucky and the fast. Here the tuner of the claims studies
(Optuna TPE after 2 random trials, the candidate's own recipe as trial 0, one tuning seed) tunes simulated
candidates whose truth is known, under each pruner, on the same simulated worlds:

- a setting is the ``adam`` space (G's and D's learning rates log-uniform in [1e-4, 3e-3], beta1 in {0, 0.5,
  0.9}); its final quality (FID-like, lower is better) is a bowl in log learning rate around an optimum drawn
  per world, plus a beta1 effect;
- its curve falls from the untrained level towards that final value at a speed that grows with the learning
  rates, so fast settings lead early and slow ones may pass them later (curves cross); the truth a tuning is
  judged by is the curve's value at the end of the budget;
- large learning rates diverge (the curve returns to the untrained level and stays) with a probability that
  grows with them; a run's seed shifts its whole curve, and every evaluation adds noise;
- 10 evaluations over the budget, as the claims studies' learning curves; the pruner sees them as they come.

Read per pruner, over the worlds: the chosen setting's true quality (comparable across trial counts: the worlds
are the same), how often the tuning ends on the best setting it tried (truth, not the noisy score), the chosen
setting's true quality above the best tried (regret), how often it is worse than the recipe's, how often the best
setting tried was pruned, and the iterations spent (a full trial is 1). Printed as a table; nothing is timed.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np

#: evaluations of a run, as fractions of the budget (the claims studies log 10 points a curve)
STEPS = [(i + 1) / 10 for i in range(10)]
BUDGET = 3000  # generator iterations of a run; pruners step in iterations, as the study's do
UNTRAINED = 400.0  # the quality of an untrained generator (FID-like: lower is better)
RECIPE = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5}  # trial 0: the candidate's own recipe


@dataclass(frozen=True)
class World:
    """One simulated candidate: where its best learning rates lie, and how noisy its runs are."""

    best_lr: tuple[float, float]  # log10 of the optimal lr_g, lr_d
    beta_effect: dict[float, float]
    seed_sd: float  # a run's seed shifts its whole curve
    eval_sd: float  # each evaluation's own noise

    @classmethod
    def draw(cls, rng: np.random.Generator) -> World:
        beta = dict(zip((0.0, 0.5, 0.9), rng.permutation([0.0, 5.0, 15.0]), strict=True))
        return cls((rng.uniform(-3.8, -2.7), rng.uniform(-3.8, -2.7)), beta, seed_sd=8.0, eval_sd=10.0)

    def final(self, s: dict) -> float:
        """The setting's true final quality (no noise, no divergence)."""
        dg, dd = math.log10(s["lr_g"]) - self.best_lr[0], math.log10(s["lr_d"]) - self.best_lr[1]
        return 40.0 + 120.0 * (dg**2 + dd**2) + self.beta_effect[s["beta1"]]

    def speed(self, s: dict) -> float:
        """How fast the curve falls: faster with larger learning rates (crossing curves)."""
        return 6.0 * math.sqrt(s["lr_g"] * s["lr_d"]) / 1e-3

    def divergence(self, s: dict) -> float:
        """The chance that a run of the setting diverges: rises with the learning rates."""
        x = math.log10(s["lr_g"]) + math.log10(s["lr_d"]) + 5.6
        return 1.0 / (1.0 + math.exp(-3.0 * x))

    def at_budget(self, s: dict, final: float | None = None) -> list[float]:
        """The noiseless curve at every evaluation (from ``final``, the setting's own unless a seed moved it)."""
        final = self.final(s) if final is None else final
        return [final + (UNTRAINED - final) * math.exp(-self.speed(s) * t) for t in STEPS]

    def expected(self, s: dict) -> float:
        """The setting's true quality at the end of the budget as a user's runs see it: a diverged run ends
        untrained."""
        p = self.divergence(s)
        return (1 - p) * self.at_budget(s)[-1] + p * UNTRAINED

    def curve(self, s: dict, rng: np.random.Generator) -> list[float]:
        clean = self.at_budget(s, self.final(s) + rng.normal(0, self.seed_sd))
        diverges_at = rng.uniform(0.1, 1.0) if rng.random() < self.divergence(s) else math.inf
        return [
            UNTRAINED if t >= diverges_at else v + rng.normal(0, self.eval_sd)
            for t, v in zip(STEPS, clean, strict=True)
        ]


def pruners() -> dict[str, object]:
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # WilcoxonPruner's
    return {
        "none": optuna.pruners.NopPruner(),
        "ASHA from 1/6 (500)": optuna.pruners.SuccessiveHalvingPruner(min_resource=500, reduction_factor=3),
        "ASHA from 1/3 (1000)": optuna.pruners.SuccessiveHalvingPruner(min_resource=1000, reduction_factor=3),
        "median from 1/3": optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=999),
        "Wilcoxon p<0.1": optuna.pruners.WilcoxonPruner(p_threshold=0.1),
    }


def tune(world: World, pruner, trials: int, seed: int) -> dict[str, float]:
    """One tuning of ``trials`` trials under ``pruner``: what it chose against the truth, and what it spent."""
    import optuna

    rng = np.random.default_rng(seed)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=2)
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
    study.enqueue_trial(RECIPE)
    tried, spent = [], 0.0
    for _ in range(trials):
        trial = study.ask()
        s = {
            "lr_g": trial.suggest_float("lr_g", 1e-4, 3e-3, log=True),
            "lr_d": trial.suggest_float("lr_d", 1e-4, 3e-3, log=True),
            "beta1": trial.suggest_categorical("beta1", [0.0, 0.5, 0.9]),
        }
        tried.append(s)
        values, pruned = world.curve(s, rng), False
        for t, value in zip(STEPS, values, strict=True):
            spent += 1 / len(STEPS)
            if value >= UNTRAINED:  # diverged: counted, never chosen (tuning.py)
                pruned = True
                break
            trial.report(value, step=round(t * BUDGET))
            if trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, values[-1])
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    chosen = tried[min(complete, key=lambda t: t.value).number] if complete else RECIPE
    truth = [world.expected(s) for s in tried]
    return {
        "chosen's quality": world.expected(chosen),
        "chose best tried": float(world.expected(chosen) <= min(truth) + 1e-9),
        "regret": world.expected(chosen) - min(truth),
        "worse than recipe": float(world.expected(chosen) > world.expected(RECIPE) + 1e-9),
        "best tried pruned": float(study.trials[int(np.argmin(truth))].state != optuna.trial.TrialState.COMPLETE),
        "trials spent": spent,
    }


def compare(worlds: int, trials: int, seed: int = 0, names: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Every pruner (or those ``names``) on the same ``worlds`` and tuner seeds: the mean of each outcome."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rng = np.random.default_rng(seed)
    drawn = [World.draw(rng) for _ in range(worlds)]
    found = {}
    for name, pruner in pruners().items():
        if names is not None and name not in names:
            continue
        outcomes = [tune(w, pruner, trials, seed=1000 * seed + i) for i, w in enumerate(drawn)]
        found[name] = {key: statistics.fmean(o[key] for o in outcomes) for key in outcomes[0]}
    return found


NUMBERS = ("chosen's quality", "regret", "trials spent")  # the rest are shares


def table(found: dict[str, dict[str, float]], trials: int) -> str:
    keys = list(next(iter(found.values())))
    lines = [f"| pruner ({trials} trials) | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, row in found.items():
        cells = [f"{row[k]:.0%}" if 0 <= row[k] <= 1 and k not in NUMBERS else f"{row[k]:.1f}" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=300, help="simulated candidates per pruner")
    parser.add_argument("--trials", default="3,6,8", help="trials a tuning, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    began = time.perf_counter()
    for trials in (int(t) for t in args.trials.split(",")):
        print(table(compare(args.worlds, trials, args.seed), trials) + "\n")
    print(f"{args.worlds} simulated candidates a row; {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
