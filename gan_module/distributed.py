"""Data-parallel GAN training: one process per device, gradients averaged across them after every step.

Why not Lightning's plain ``ddp``: DistributedDataParallel wraps the whole LightningModule and expects every
parameter to receive a gradient from each backward. Algorithm 1 makes two backward passes per iteration, one
that only reaches D's weights and one that only reaches G's, so plain ``ddp`` stops with "parameters that were
not used in producing the loss". ``ddp_find_unused_parameters_true`` avoids the error by walking the autograd
graph after every forward, and gradient penalties (a double backward through D) sit awkwardly with DDP's hooks.

:class:`GANDDPStrategy` does what StyleGAN2-ADA does instead: the networks stay plain modules, every rank runs
the same step on its own share of the data, and after each backward the module averages the gradients of the
network being updated with one all-reduce (:func:`average_gradients`), before the non-finite check and the
optimizer step. Every rank then applies the same update to the same weights, so they stay identical without a
wrapper. Buffers (batch-norm running statistics) follow DDP's rule: rank 0's are broadcast before each step.

Batch size is per device: ``data.batch_size: 64`` on 4 GPUs trains on 256 real images per D step.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _flat_groups(tensors: list[Tensor]) -> list[list[Tensor]]:
    """The tensors grouped by dtype and device, so each group can travel as one flat buffer."""
    groups: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    return list(groups.values())


@torch.no_grad()
def average_gradients(network: nn.Module) -> None:
    """Replace each gradient of ``network`` by its mean over all ranks (one all-reduce per dtype).

    A parameter without a gradient on this rank takes part with zeros, so every rank sends the same buffer
    layout; ranks that agree on which parameters have gradients (they run the same code) lose nothing.
    """
    params = [p for p in network.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    world = dist.get_world_size()
    for group in _flat_groups([p.grad for p in params]):
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in group:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


@torch.no_grad()
def broadcast_state(module: nn.Module, parameters: bool = False) -> None:
    """Copy rank 0's buffers (and, with ``parameters``, its weights) to every rank."""
    tensors = list(module.buffers()) + (list(module.parameters()) if parameters else [])
    for group in _flat_groups(tensors):
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.broadcast(flat, src=0)
        offset = 0
        for t in group:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()


class GANDDPStrategy(DDPStrategy):
    """Lightning's DDP launch, process group and samplers, without the DistributedDataParallel wrapper.

    The GAN module notices that it runs distributed and unwrapped, and averages each network's gradients
    itself (see the module docstring). Select it with ``--config configs/trainer/ddp.yaml``; ``devices``,
    ``num_nodes`` and ``sync_batchnorm`` are the trainer's usual options.
    """

    strategy_name = "gan_ddp"

    def configure_ddp(self) -> None:
        # No wrapper: start every rank from rank 0's weights, as DistributedDataParallel's constructor does.
        if is_distributed():
            broadcast_state(self.lightning_module, parameters=True)
