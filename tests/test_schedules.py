"""The 2014 code's schedules: lr decay per step and the momentum ramp over epochs."""

import pytest
import torch

from callbacks.momentum import MomentumRamp
from gan_module.schedules import ExponentialDecay


def test_exponential_decay_divides_lr_each_step_down_to_min_lr():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = ExponentialDecay(opt, decay_factor=2.0, min_lr=0.02)
    lrs = []
    for _ in range(4):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.05, 0.025, 0.02, 0.02])


def test_momentum_ramp_matches_pylearn2_momentum_adjustor():
    ramp = MomentumRamp(initial=0.5, final=0.7, start_epoch=1, saturate_epoch=250)
    assert ramp.momentum(0) == 0.5 and ramp.momentum(1) == 0.5
    assert ramp.momentum(125.5) == pytest.approx(0.6)
    assert ramp.momentum(250) == pytest.approx(0.7) and ramp.momentum(400) == pytest.approx(0.7)
