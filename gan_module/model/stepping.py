"""Each player's update: backward, gradients averaged across ranks and checked finite, the step, its schedule.

A part of :class:`gan_module.model.module.GAN` (mixed into it): the mechanics under Algorithm 1's "update D by
ascending its stochastic gradient" -- manual optimization's backward pass, gradient averaging where no DDP
wrapper does it (gan_module/distributed.py), the divergence check before a step can spread a NaN into the
weights, 16-bit AMP's scaled gradients, and the learning-rate schedule of each player.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from gan_module.distributed import average_gradients, broadcast_state, is_distributed
from gan_module.errors import DivergenceError
from gan_module.model.diagnostic_maths import gradient_norm


class Stepping:
    """Backward, step and schedule of one player."""

    @property
    def _sync_gradients(self) -> bool:
        """Distributed without a DDP wrapper (GANDDPStrategy): the module averages gradients itself."""
        wrapped = self._trainer is not None and isinstance(self.trainer.model, DistributedDataParallel)
        return self._trainer is not None and is_distributed() and not wrapped

    def _scheduler_for(self, optimizer: torch.optim.Optimizer):
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return None
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if scheduler.optimizer is optimizer:
                return scheduler
        return None

    def _step(self, optimizer, loss: Tensor, network: nn.Module) -> Tensor:
        """Backward, step and schedule; returns the L2 norm of the network's gradient (before the step)."""
        grad_norm = self._backward(optimizer, loss, network)
        self._take_step(optimizer)
        return grad_norm

    def _backward(self, optimizer, loss: Tensor, network: nn.Module, **backward_args: Any) -> Tensor:
        """The network's gradient of ``loss``, averaged across ranks and checked finite; returns its L2 norm."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss, **backward_args)
        if self._sync_gradients:
            average_gradients(network)  # every rank applies the same update (gan_module/distributed.py)
        grad_norm = gradient_norm(network)
        scaler = getattr(self.trainer.precision_plugin, "scaler", None) if self._trainer is not None else None
        if scaler is not None and scaler.is_enabled():
            # 16-bit AMP: the gradients are scaled, and an overflow is the GradScaler's business (it skips that
            # step and lowers the scale), so only the loss must be finite.
            grad_norm = grad_norm / scaler.get_scale()
            finite = torch.isfinite(loss)
        else:
            finite = torch.isfinite(loss) & torch.isfinite(grad_norm)
        # Checked before the step: one NaN would spread to every weight (and into the next checkpoint).
        if not bool(finite):
            player = "discriminator" if network is self.discriminator else "generator"
            raise DivergenceError(
                f"The {player}'s loss ({loss.item():.4g}) or gradient norm ({grad_norm.item():.4g}) is not finite "
                f"at iteration {self.iterations} (D step {self.d_steps}); training stopped before the update, so "
                "the weights and the checkpoints saved so far are intact. Resume from the last checkpoint with a "
                "lower learning rate, a gradient penalty or spectral normalization."
            )
        return grad_norm

    def _take_step(self, optimizer) -> None:
        """The optimizer's step on the gradient :meth:`_backward` left, then its scheduler's."""
        optimizer.step()
        scheduler = self._scheduler_for(optimizer.optimizer)
        if scheduler is not None:
            scheduler.step()

    def _synchronise_buffers(self) -> None:
        if self._sync_gradients:
            # Buffers (batch-norm running statistics) are rank 0's, as under DDP, but copied after the step
            # rather than before the next: every rank holds the same state whenever anyone looks at it.
            broadcast_state(self.generator)
            broadcast_state(self.discriminator)
