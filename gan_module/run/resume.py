"""Where training stands, written the same way into every checkpoint, so that any of them resumes exactly.

Lightning records its loops' progress as it is at the moment of saving, and that moment differs by checkpoint:
the end of an epoch (ModelCheckpoint), the end of ``max_steps`` or of a budget (the epoch counter then already
counts the half-done epoch as finished), the end of a batch, or the start of the next one (a signal). Its
restart logic reads each of these differently, and from all but the last it resumed one epoch off: a new
permutation of the data started part-way through, and the epoch counter gained one per resume.

So every checkpoint states one thing: the next batch to train, as ``(epoch, batches done in that epoch)``,
with the loops' counters written in the one form Lightning restores mid-epoch exactly -- the form it has at
the start of that batch (see :func:`between_batches`). The DataModule saves the same position to restart its
sampler there.
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from gan_module.errors import ConfigError

# Lightning warns on every mid-epoch resume when global_step (optimizer steps: k + 1 per iteration here) is not
# a multiple of the batches per epoch. The DataModule restarts its sampler at the saved batch, so the warning's
# premise (a loader that cannot resume) does not hold.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")


def next_batch(trainer) -> tuple[int, int]:
    """``(epoch, batches already trained in it)`` of the batch a resumed run must train next."""
    loop = trainer.fit_loop
    epoch = max(loop.epoch_progress.current.started - 1, 0)  # the epoch whose batches are being counted
    done = loop.epoch_loop.batch_progress.current.processed
    if done >= trainer.num_training_batches:  # that epoch is over: the next starts afresh
        return epoch + 1, 0
    return epoch, done


def _progress(done: int) -> dict[str, int]:
    """A tracker as Lightning has it at the start of item ``done``: fetched (ready), nothing else yet."""
    return {"ready": done + 1, "started": done, "processed": done, "completed": done}


def between_batches(checkpoint: dict[str, Any], epoch: int, batches: int) -> None:
    """Rewrite the fit loop's counters in ``checkpoint`` as at the start of batch ``batches`` of ``epoch``.

    This is the state a SIGTERM checkpoint (callbacks/preemption.py) captures, from which Lightning continues
    with exactly that batch: the epoch is marked started and unfinished, the batch fetched but not trained.
    Lightning adds one to the logging step counter on such a restart, so it is saved one lower.
    """
    fit = checkpoint["loops"]["fit_loop"]
    trained = fit["epoch_loop.batch_progress"]["total"]["processed"]  # batches of the whole run, resumes included
    epochs = {"ready": epoch + 1, "started": epoch + 1, "processed": epoch, "completed": epoch}
    fit["epoch_progress"] = {"total": dict(epochs), "current": dict(epochs)}
    fit["epoch_loop.batch_progress"] = {
        "total": _progress(trained),
        "current": _progress(batches),
        "is_last_batch": False,
    }
    fit["epoch_loop.state_dict"]["_batches_that_stepped"] = trained - 1
    checkpoint["epoch"] = epoch  # epochs completed, however the save was timed


# ---------------------------------------------------------------------------------------------- changed settings
#: model settings that make a checkpoint a different model: they cannot change when it is resumed or evaluated
FIXED_SETTINGS = (
    "generator",
    "discriminator",
    "loss",
    "noise",
    "pack",
    "generator_spectral_norm",
    "discriminator_spectral_norm",
)
_OPTIMIZERS = ("discriminator_optimizer", "generator_optimizer")  # the order of configure_optimizers
_SCHEDULERS = ("discriminator_scheduler", "generator_scheduler")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        items = ((str(i), v) for i, v in enumerate(value))
    else:  # a leaf; tuples and lists compare alike
        return {prefix: json.loads(json.dumps(value, default=str))}
    flat: dict[str, Any] = {}
    for key, item in items:
        if not str(key).startswith("_"):  # Lightning's own bookkeeping (_instantiator, _class_path)
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def changed_settings(saved: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{"discriminator_optimizer.init_args.lr": (saved value, current value), ...}`` for every model setting
    both name and that differs. A setting only one of them has (one linked in from the data, or a
    parameter added since) is not compared."""
    old, new = _flatten(saved), _flatten(current)
    return {key: (old[key], new[key]) for key in sorted(old.keys() & new.keys()) if not _same(key, old[key], new[key])}


def _same(key: str, old: Any, new: Any) -> bool:
    """Equal values; for a ``class_path``, the same class, however the path reaches it (a piece moved into a
    sub-module and re-exported from its old path is the same piece, and its checkpoints still resume)."""
    if old == new:
        return True
    if not key.endswith("class_path"):
        return False
    found = [class_at(path) for path in (old, new)]
    return found[0] is not None and found[0] is found[1]


def class_at(path: Any) -> type | None:
    """The class a ``class_path`` names, or None when it does not import (a class removed since: different)."""
    module, _, name = str(path).rpartition(".")
    try:
        return getattr(importlib.import_module(module), name) if module else None
    except (ImportError, AttributeError):
        return None


def is_fixed(key: str) -> bool:
    """A setting the checkpoint's weights and optimizer states depend on (any class_path among them)."""
    return key.split(".", 1)[0] in FIXED_SETTINGS or key.endswith("class_path")


def describe(changes: Mapping[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"model.{key}: {old} -> {new}" for key, (old, new) in changes.items())


def apply_changed_settings(changes: Mapping[str, tuple[Any, Any]], optimizers: list, schedulers: list) -> None:
    """Put changed optimizer and scheduler settings back after Lightning restored the checkpoint's states.

    Restoring an optimizer or a scheduler brings back the checkpoint's hyperparameters with its moments, so
    a learning rate changed on the command line would silently be the old one. A new learning rate rescales
    the current (possibly scheduled) one by new/old, so a schedule continues from the new base.
    """
    for key, (old, new) in changes.items():
        name, _, field = key.partition(".init_args.")
        if name in _OPTIMIZERS:
            optimizer = optimizers[_OPTIMIZERS.index(name)]
            for group in optimizer.param_groups:
                if field == "lr":
                    group["lr"] *= new / old
                    if "initial_lr" in group:
                        group["initial_lr"] = new
                elif field in group:
                    group[field] = tuple(new) if isinstance(group[field], tuple) else new
            for scheduler in schedulers:
                if scheduler.optimizer is optimizer and field == "lr":
                    scheduler.base_lrs = [new for _ in scheduler.base_lrs]
        elif name in _SCHEDULERS:
            optimizer = optimizers[_SCHEDULERS.index(name)]
            for scheduler in schedulers:
                if scheduler.optimizer is optimizer and hasattr(scheduler, field):
                    setattr(scheduler, field, new)


# ------------------------------------------------------------------------------------------- random streams
def gather_rng_states(module) -> dict[str, Any]:
    """Every rank's generator states, for the checkpoint (call it on every rank: it gathers under DDP).

    The noise and dropout draw from the global generators; saving them makes a resumed run continue the exact
    random stream of an uninterrupted one. Each rank has its own stream, so every rank's states are kept.
    """
    states = _torch_rng_states()
    trainer = module._trainer
    if trainer is None or trainer.world_size == 1:
        return {"per_rank": [states]}
    gathered = {key: module.all_gather(value.to(module.device)).cpu() for key, value in states.items()}
    # a copy of its own per rank: a view into the gathered storage would be saved with an offset
    return {"per_rank": [{key: value[r].clone() for key, value in gathered.items()} for r in range(trainer.world_size)]}


def restore_rng_states(states: dict[str, Any] | None, rank: int, world: int) -> None:
    """Continue this rank's saved random stream, or start a stream of its own when there is none to continue."""
    if states is not None and "per_rank" not in states:  # a checkpoint from before per-rank states
        states = {"per_rank": [states]}
    if states is not None and len(states["per_rank"]) == world:
        _set_torch_rng_states(states["per_rank"][rank])
    elif world > 1:
        # Every rank was seeded alike; each must draw its own noise, or the ranks would train on the same
        # fakes. A resume on a different number of ranks also starts new streams (not bit-exact then).
        torch.manual_seed(torch.initial_seed() * world + rank)


def _torch_rng_states() -> dict[str, Tensor]:
    """This process's CPU and current-CUDA-device generator states: tensors only, so checkpoints load with
    ``weights_only=True``."""
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def _set_torch_rng_states(states: dict[str, Any]) -> None:
    # A copy of its own: a rank's state loaded from a gathered checkpoint is a view at an offset into one
    # storage of all ranks' states, and set_rng_state reads the storage from its start (rank 1 crashed).
    torch.set_rng_state(states["torch"].clone())
    cuda = states.get("cuda")
    if isinstance(cuda, Tensor) and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda.clone())


def check_compatible(own: dict[str, Tensor], saved: dict[str, Tensor]) -> None:
    """A checkpoint of other networks stops with what differs, not with a size-mismatch traceback."""
    missing = sorted(own.keys() - saved.keys())
    unexpected = sorted(saved.keys() - own.keys())
    resized = sorted(k for k in own.keys() & saved.keys() if tuple(own[k].shape) != tuple(saved[k].shape))
    if missing or unexpected or resized:
        found = [
            f"{len(names)} {what} (e.g. {names[0]})"
            for names, what in ((missing, "missing"), (unexpected, "unexpected"), (resized, "with other shapes"))
            if names
        ]
        raise ConfigError(
            f"The checkpoint does not fit these networks: weights {', '.join(found)}. It was saved from other "
            "networks: use the config it was trained with, or a checkpoint of this model."
        )
