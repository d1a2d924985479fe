"""The machine a run is on: settings that only make the same computation cheaper where it runs."""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
from torch import nn

from gan_module.run import openmp

_NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def stop_probing_for_absent_gpus() -> None:
    """On a machine without CUDA devices, stop torch from looking for NVIDIA's library at every Adam step.

    Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` on import (so that CUDA is not initialised before
    DataLoader workers fork). ``torch.cuda.is_available()`` then asks NVML for the device count, and before CUDA
    is initialised torch does not cache the answer: every ``Adam.step`` (its CUDA-graph health check) tries to
    ``dlopen`` the NVML library again, ~0.1 ms each time where no NVIDIA driver is installed (a CPU node with a
    CUDA build of torch). Once Lightning has chosen the devices and none is a GPU, the plain check (a cached
    "no device" from the CUDA runtime) is exact and costs nothing; there is nothing to fork-poison.
    """
    if os.environ.get(_NVML_CHECK) == "1" and torch.cuda.device_count() == 0:
        del os.environ[_NVML_CHECK]


# ------------------------------------------------------------------------------------------------ CPU threads
#: the environment variables that set the intra-op thread count before torch starts (the user's choice wins)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: a run that cannot re-choose its threads (deterministic, several processes) takes one intra-op thread below
#: this many floating-point operations in one forward pass of a training batch through G and D: beside any other
#: busy process, OpenMP threads waiting on a core that process holds made the 2-D mixtures (0.03 GFLOP) 2-13x
#: slower on 2 cores (docs/scaling.md, "Threads"); the quickstart (0.26 GFLOP) and DCGAN (7.6 GFLOP) keep torch's
#: default
SMALL_WORK_FLOPS = 1e8
#: torch's own count when this process started (OMP_NUM_THREADS, else the cores): what "torch's default" restores,
#: since an earlier run in the same process (a study worker, a notebook) may have chosen one thread
_TORCH_DEFAULT = torch.get_num_threads()


def forward_flops(model: nn.Module, batch_size: int) -> float:
    """Floating-point operations of one forward pass of ``batch_size`` samples through G and D (``model`` is a
    GAN), counted by torch's FlopCounterMode on a few samples and scaled (both grow linearly with the batch)."""
    from torch.utils.flop_counter import FlopCounterMode

    n = 2 * model.pack
    z = model.noise.sample(n, model.latent_dim, "cpu", torch.Generator().manual_seed(0)).to(model.device)
    labels = torch.zeros(n, dtype=torch.long, device=model.device) if model.num_classes else None
    was_training = model.discriminator.training
    model.discriminator.eval()  # batch norm in eval mode takes any batch; the count is the same
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            fake = model.generate_plain(z, labels)
            packed = fake.reshape(n // model.pack, model.pack * fake.shape[1], *fake.shape[2:])  # as PacGAN packs
            model.judge(packed, labels)
    finally:
        model.discriminator.train(was_training)
    return counter.get_total_flops() * batch_size / n


class ThreadChoice(NamedTuple):
    """What :func:`choose_threads` set: the start-up line, and the two counts to keep measuring (or None)."""

    line: str
    tune: tuple[int, int] | None  # the counts callbacks.ThreadTuner times against each other; it starts on the one set


def choose_threads(
    setting: int | str, model: nn.Module, batch_size: int | None, on_cpu: bool, tunable: bool = True
) -> ThreadChoice:
    """Set torch's intra-op threads for this run and say in one line what was chosen and how to change it.

    ``setting``: ``auto`` or a count. ``auto`` keeps a count the environment set (OMP_NUM_THREADS,
    MKL_NUM_THREADS) and torch's default where the networks run on a GPU. On a CPU, where ``tunable`` (one
    process, not deterministic), it starts on torch's default where main.py found the machine idle (else on one
    thread) and returns the counts callbacks.ThreadTuner times against each other while the run trains;
    otherwise one thread for networks under :data:`SMALL_WORK_FLOPS` per batch and torch's default above.
    """
    wait = openmp.describe(os.environ)
    override = "set `threads: N` in the config (--threads N) or OMP_NUM_THREADS"
    tune = None
    if setting != "auto":
        torch.set_num_threads(int(setting))
        why = f"threads: {setting} in the config"
    elif any(os.environ.get(v) for v in THREAD_VARIABLES):
        given = next(f"{v}={os.environ[v]}" for v in THREAD_VARIABLES if os.environ.get(v))
        why = f"{given} in the environment"
    elif not on_cpu:
        torch.set_num_threads(_TORCH_DEFAULT)
        why = "torch's default; the networks run on the accelerator"
    else:
        flops = forward_flops(model, batch_size or 1)
        size = f"G and D take {flops / 1e9:.2g} GFLOP a batch"
        if tunable and _TORCH_DEFAULT > 1:
            start = _TORCH_DEFAULT if openmp.idle_at_start() else 1
            torch.set_num_threads(start)
            tune = (1, _TORCH_DEFAULT)
            why = (
                f"{size}; {'the machine was idle at start' if start > 1 else 'one thread until measured'}; while "
                f"training, a few steps are timed on 1 and on {_TORCH_DEFAULT} threads now and then and the faster "
                "count kept, as the machine's load changes"
            )
        else:  # one count for the whole run: the rule the measurements gave before the tuner
            small = flops < SMALL_WORK_FLOPS or _TORCH_DEFAULT == 1
            torch.set_num_threads(1 if small else _TORCH_DEFAULT)
            why = f"{size}, too little to share between threads" if small else f"torch's default; {size}"
    count = torch.get_num_threads()
    line = (
        f"CPU threads: {count} intra-op thread{'s' if count > 1 else ''} ({why}; OpenMP wait policy: {wait}); "
        f"to change it, {override}."
    )
    return ThreadChoice(line, tune)
