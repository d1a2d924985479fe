"""Discriminator-guided sampling (gan_module/samplers/): DRS and MH-GAN on a 1-D toy whose answer is known, the
calibration, packing, bad settings, and the CLI path (test of a checkpoint writing metrics named by the sampler).

The toy: G = N(0, 1) (G is the identity on Gaussian noise), the data N(1, 1), and D the exact logit
log p_data(x) / p_g(x) = x - 1/2 (the optimal D of the 2014 paper's Theorem 1). Rejection sampling and the
Metropolis-Hastings chain must then turn G's samples into N(1, 1).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_module import GAN, ConfigError
from gan_module.samplers import DiscriminatorRejection, MetropolisHastings, Sampler
from gan_module.samplers.calibration import fit_logistic, per_sample_logits
from gan_module.samplers.metropolis import metropolis_chain
from tests.conftest import run_cli
from tests.test_module import sgd

N = 20000


class Identity(nn.Module):
    """G(z) = z: with standard normal noise, p_g = N(0, 1)."""

    latent_dim = 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z


class ExactLogit(nn.Module):
    """The optimal D for p_data = N(1, 1) against p_g = N(0, 1); packed: the sum over the pack's samples."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5).sum(dim=1)


def toy(pack: int = 1) -> GAN:
    return GAN(Identity(), ExactLogit(), generator_optimizer=sgd, discriminator_optimizer=sgd, pack=pack)


def target(n: int = N, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, generator=torch.Generator().manual_seed(seed)) + 1.0


def noise(n: int = N, seed: int = 2) -> torch.Tensor:
    return torch.randn(n, 1, generator=torch.Generator().manual_seed(seed))


def assert_standard_normal_at_one(x: torch.Tensor) -> None:
    """Mean 1 and variance 1 within ~5 standard errors of N samples (tails of N(1, 1) included: skew ~ 0)."""
    x = x.flatten().double()
    assert x.mean().item() == pytest.approx(1.0, abs=0.04)
    assert x.var().item() == pytest.approx(1.0, abs=0.06)
    assert ((x - x.mean()) ** 3).mean().item() == pytest.approx(0.0, abs=0.1)


def test_the_logistic_calibration_of_an_exact_logit_is_the_identity():
    gan = toy()
    a, b = fit_logistic(gan.judge(target()), gan.judge(noise()))
    assert a == pytest.approx(1.0, abs=0.05) and b == pytest.approx(0.0, abs=0.05)
    # a miscalibrated D (its logit doubled and shifted) is mapped back
    a, b = fit_logistic(2 * gan.judge(target()) + 3, 2 * gan.judge(noise()) + 3)
    assert a == pytest.approx(0.5, abs=0.03) and b == pytest.approx(-1.5, abs=0.1)


def test_drs_accepts_in_proportion_to_the_density_ratio_and_gamma_shifts_it():
    drs = DiscriminatorRejection()
    drs.log_m = 3.0
    logits = torch.linspace(-6.0, 3.0, 50)
    # gamma = 0: sigmoid(F) = exp(D~ - D~*), the acceptance of rejection sampling with M = exp(D~*)
    torch.testing.assert_close(drs.acceptance(logits), torch.exp(logits - 3.0), rtol=1e-3, atol=1e-5)
    drs.shift = -2.0  # gamma < 0 keeps more, and still in the same order
    shifted = drs.acceptance(logits)
    assert (shifted > torch.exp(logits - 3.0) - 1e-6).all() and (shifted.diff() > 0).all()
    drs.acceptance(torch.tensor([4.0]))  # a larger logit raises D~*
    assert drs.log_m == 4.0


def test_drs_turns_g_into_the_data_on_the_toy():
    gan = toy()
    drs = DiscriminatorRejection(max_draws_per_sample=5000, calibration_size=N)
    calibration = drs.prepare(gan, (target(), None))
    assert calibration.scale == pytest.approx(1.0, abs=0.05) and calibration.shift == pytest.approx(0.0, abs=0.05)
    z = noise()
    assert gan.generate(z, refined=False).mean().item() == pytest.approx(0.0, abs=0.04)  # G itself: N(0, 1)
    assert_standard_normal_at_one(drs.draw(gan, z, None))
    # the cost: about M = E_g[exp(D~* - D~)]^-1 ... = exp(D~*) draws per kept sample (the largest of N logits)
    assert drs.cost.kept == N and drs.cost.capped == 0
    assert 0.5 * math.exp(drs.log_m - 0.5) < drs.cost.draws_per_sample < 2 * math.exp(drs.log_m - 0.5)


def test_the_drs_cap_bounds_the_draws_and_hands_out_gs_samples():
    gan = toy()
    drs = DiscriminatorRejection(max_draws_per_sample=3, calibration_size=5000)
    drs.prepare(gan, (target(5000), None))
    out = drs.draw(gan, noise(4000), None)
    assert drs.cost.draws <= 3 * 4000 and drs.cost.capped > 1000  # ~3% kept per draw: most reach the cap
    assert out.mean().item() < 0.5  # mostly G's own samples


def standard_normal_proposals(gan, generator: torch.Generator):
    """The independence sampler's proposals of a generator that draws N(0, 1), with D's logits."""

    def propose(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(count, 1, generator=generator)
        return x, gan.judge(x)

    return propose


def test_the_metropolis_chain_leaves_the_target_invariant():
    gan = toy()
    generator = torch.Generator().manual_seed(3)
    propose = standard_normal_proposals(gan, generator)
    start = target()
    for steps in (1, 5):
        state, _, moved = metropolis_chain(start, gan.judge(start), propose, steps, generator)
        assert_standard_normal_at_one(state)
        assert moved.float().mean() > 0.4  # it did move: invariance is not standing still


def test_the_metropolis_chain_converges_to_the_target_from_g():
    gan = toy()
    generator = torch.Generator().manual_seed(4)
    propose = standard_normal_proposals(gan, generator)
    start = noise()  # G's own samples: N(0, 1)
    state, _, _ = metropolis_chain(start, gan.judge(start), propose, 30, generator)
    assert_standard_normal_at_one(state)


def test_mh_gan_draws_the_data_from_chains_started_at_held_out_samples():
    stuck = {}
    for k in (10, 50):
        gan = toy()
        mh = MetropolisHastings(chain_length=k, calibration_size=N)
        mh.prepare(gan, (target(seed=5), None))
        samples = mh.draw(gan, noise(), None)
        stuck[k] = mh.cost.capped  # chains that never left their real start: run again from G (the paper's rule)
        assert k <= mh.cost.draws_per_sample < k + 0.2 * (k + 1)
    assert_standard_normal_at_one(samples)
    # the restart rule's bias (a chain stuck at a real sample of high ratio is replaced) fades as K grows
    assert stuck[10] > 10 * stuck[50] > 0


def test_a_packed_discriminator_is_read_per_sample_and_drs_still_recovers_the_data():
    gan = toy(pack=2)
    partners = noise(4, seed=9).reshape(4, 1, 1)  # 4 sets of one partner (pack 2), each (1,)
    x = noise(100, seed=10)
    per_sample = per_sample_logits(gan, x, None, partners)
    # D(x, y) = l(x) + l(y): the sample's own logit plus the partners' mean, a constant the calibration removes
    torch.testing.assert_close(per_sample, (x[:, 0] - 0.5) + (partners - 0.5).mean())
    drs = DiscriminatorRejection(max_draws_per_sample=5000, calibration_size=N)
    calibration = drs.prepare(gan, (target(), None))
    assert calibration.scale == pytest.approx(1.0, abs=0.05)
    assert_standard_normal_at_one(drs.draw(gan, noise(), None))


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: DiscriminatorRejection(gamma=float("nan")), "gamma must be a finite number"),
        (lambda: DiscriminatorRejection(gamma_quantile=1.5), "gamma_quantile must be in (0, 1)"),
        (lambda: DiscriminatorRejection(max_draws_per_sample=0), "max_draws_per_sample must be an integer >= 1"),
        (lambda: DiscriminatorRejection(epsilon=0.0), "epsilon must be > 0"),
        (lambda: MetropolisHastings(chain_length=0), "chain_length must be an integer >= 1"),
        (lambda: DiscriminatorRejection().check_data(0), "set data.init_args.val_size"),
    ],
)
def test_bad_settings_are_clear_errors(make, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_the_plain_sampler_is_g_and_names_nothing():
    gan = toy()
    assert isinstance(gan.sampler, Sampler) and not gan.sampler.guides and gan.sampler.label is None
    z = noise(10)
    torch.testing.assert_close(gan.generate(z), gan.generate(z, refined=False))


MIXTURE = [
    "--config",
    "configs/mixtures/base.yaml",
    "--config",
    "configs/mixtures/grid.yaml",
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=20",
    "--trainer.limit_val_batches=2",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--evaluation.num_samples=1000",
    "--sample_grid.every_n_epochs=0",
    "--interpolation.every_n_epochs=0",
]


def test_test_of_a_checkpoint_with_drs_logs_raw_and_refined_metrics_named_by_the_sampler(tmp_path, capsys):
    run_cli("fit", *MIXTURE, f"--trainer.default_root_dir={tmp_path}")
    ckpt = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    drs = ["--config", "configs/sampling/drs.yaml", "--model.sampler.init_args.calibration_size=1000"]
    run_cli("test", *MIXTURE, *drs, f"--ckpt_path={ckpt}")
    with open(tmp_path / "version_0" / "test" / "metrics.csv", newline="") as file:
        (row,) = [r for r in csv.DictReader(file) if r.get("eval/modes_1k_high_quality")]
    for name in ("high_quality", "captured_any", "reverse_kl"):
        assert math.isfinite(float(row[f"eval/modes_1k_{name}"]))  # the plain generator's, as every study reads
        assert math.isfinite(float(row[f"eval/modes_1k_drs_{name}"]))  # the sampler's, named by it
    assert float(row["eval/sampler_drs_draws_per_sample"]) >= 1.0
    assert float(row["eval/sampler_drs_seconds_per_1k"]) > 0
    assert 0 <= float(row["eval/sampler_drs_capped_share"]) <= 1
    # a bad sampler setting is one line before anything runs (YAML spells NaN `.nan`)
    with pytest.raises(SystemExit) as stop:
        run_cli("test", *MIXTURE, *drs, "--model.sampler.init_args.gamma=.nan", f"--ckpt_path={ckpt}")
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "gamma must be a finite number" in err[-1]


def test_a_study_ranking_by_a_samplers_metric_is_checked_against_the_sampler_in_its_configs(tmp_path):
    import yaml

    from gan_module.study.preflight import check_configs
    from gan_module.study.spec import load_study

    def study(rank: str) -> Path:
        spec = {
            "name": "guided",
            "base": ["configs/mixtures/base.yaml", "configs/sampling/drs.yaml"],
            "seeds": [0, 1],
            "budget": {"iterations": 4},
            "args": {"evaluation.num_samples": 500},
            "rank_by": {"metric": rank, "mode": "max"},
            "metrics": ["eval/modes_500_high_quality", "eval/sampler_drs_draws_per_sample"],
            "axes": {"gamma": {"exact": {}, "more": {"args": {"model.sampler.init_args.gamma": -1.0}}}},
        }
        path = tmp_path / "study.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    check_configs(load_study(study("eval/modes_500_drs_high_quality"), tmp_path / "runs"))  # raw and DRS names
    with pytest.raises(ConfigError, match="never logs eval/modes_500_mh_high_quality") as err:
        check_configs(load_study(study("eval/modes_500_mh_high_quality"), tmp_path / "runs"))
    assert "sampler drs" in str(err.value)
