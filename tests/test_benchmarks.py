"""benchmarks/speed.py: the bare loop does exactly the module's work, so the speed ratio compares like with like."""

from __future__ import annotations

import copy

import pytest
import torch

from benchmarks import speed


@pytest.mark.parametrize("name", ["mlp2014", "dcgan"])
def test_the_bare_loop_and_the_module_train_identical_weights(name):
    torch.manual_seed(0)
    setup = speed.MODELS[name]()
    twin = copy.deepcopy(setup)
    initial = copy.deepcopy(setup.generator.state_dict())
    torch.manual_seed(1)  # the same noise and dropout draws on both sides
    speed.bare_loop(setup, iterations=3, warmup=0, device=torch.device("cpu"))
    torch.manual_seed(1)
    speed.lightning_loop(twin, iterations=3, warmup=0, device=torch.device("cpu"), precision="32-true")
    for ours, theirs in ((setup.generator, twin.generator), (setup.discriminator, twin.discriminator)):
        for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
            assert torch.allclose(a, b, atol=1e-6), key
    assert any(not torch.equal(initial[k], v) for k, v in setup.generator.state_dict().items())  # it trained


def test_the_table_reports_both_speeds_and_their_ratio(capsys):
    results = speed.main(["--models", "mlp2014", "--iterations", "2", "--warmup", "1", "--repeats", "1"])
    (row,) = results
    assert row["bare_it_s"] > 0 and row["lightning_it_s"] > 0
    assert row["ratio"] == pytest.approx(row["lightning_it_s"] / row["bare_it_s"])
    assert "| mlp2014 | cpu | 32-true |" in capsys.readouterr().out
