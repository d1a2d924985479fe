"""The machine a run is on: settings that only make the same computation cheaper where it runs."""

from __future__ import annotations

import os

import torch

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
