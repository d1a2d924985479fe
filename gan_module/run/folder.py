"""Which run folder a command writes to, claimed before anything is written, one writer at a time.

``fit`` claims a new ``<root>/version_N`` (or continues the folder of the checkpoint it resumes); ``test``,
``validate`` and ``predict`` of a checkpoint write beside its training logs (``<run>/test/``). The folder's
OS lock is held until the command ends, and a new folder whose command failed before training wrote anything
is removed again (:func:`claims`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from jsonargparse import Namespace
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from gan_module.errors import ConfigError
from gan_module.run.checkpoint import read_checkpoint
from gan_module.run.layout import RunLayout, claim_run, latest_last_checkpoint, next_run, remove_if_untrained
from gan_module.run.locks import RunBusyError, lock_folder
from gan_module.run.resume import class_at
from gan_module.run.wandb import continue_wandb_run

#: the configs folder of this checkout: a run's default folder is named after its config's path inside it
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
#: the run folder of a new fit, shared by every process of a distributed run (see new_run_folder)
RUN_DIR_ENV = "GAN_RUN_DIR"
#: the run folders this process writes (their OS locks; released when a command ends, or by the kernel)
_HELD_LOCKS: list[IO[str]] = []


def resolve_run_folder(cfg: Namespace, subcommand: str, claim: bool = True) -> dict[str, Any] | None:
    """Pick the run folder and point the checkpoints and loggers into it (``claim=False``: only name it).

    Returns the model settings saved in ``--ckpt_path`` (None without one), read with the checkpoint's check.
    """
    root = Path(cfg.trainer.default_root_dir or default_runs_root(cfg.get("config") or []))
    ckpt, saved = cfg.get("ckpt_path"), None
    if ckpt == "last":
        found = latest_last_checkpoint(root)
        if found is None:
            raise ConfigError(
                f"--ckpt_path last: no {root}/version_*/checkpoints/last.ckpt to resume. Train first, "
                "or pass the checkpoint file."
            )
        ckpt = cfg.ckpt_path = str(found)
    if ckpt is not None:
        path = Path(ckpt)
        if not path.is_file():
            raise ConfigError(f"--ckpt_path {ckpt}: no such file.")
        saved = read_checkpoint(path).get("hyper_parameters") or {}
    elif subcommand in ("validate", "test"):
        raise ConfigError(
            f"{subcommand} needs --ckpt_path (last, or a checkpoint file): without one it would score an "
            "untrained generator."
        )
    ckpt_run = Path(ckpt).resolve().parent.parent if ckpt is not None else None
    if subcommand == "fit" and ckpt_run is not None and RunLayout(ckpt_run).number is not None:
        run = ckpt_run  # resuming: continue in the same folder
    elif subcommand == "fit" or ckpt_run is None:
        run = new_run_folder(root) if claim else next_run(root).root
    else:  # evaluating a trained run: beside its training logs, not over them
        run = RunLayout(ckpt_run).evaluation(subcommand).root
    if claim and subcommand == "fit" and is_first_process():
        try:  # before anything is written: one writer per run folder
            _HELD_LOCKS.append(lock_folder(Path(run)))
        except RunBusyError as err:
            raise ConfigError(str(err)) from None
    _point_into(cfg, Path(run), claim)
    return saved


def _point_into(cfg: Namespace, run: Path, claim: bool) -> None:
    """The trainer's, the checkpoints' and the loggers' folders: all inside ``run``."""
    cfg.trainer.default_root_dir = str(run)
    if cfg.checkpoint.dirpath is None:
        cfg.checkpoint.dirpath = str(RunLayout(run).checkpoints)
    for logger in logger_configs(cfg):
        if logger.get("init_args") is None:
            logger.init_args = Namespace()
        logger.init_args.save_dir = str(run)
        kind = class_at(logger.class_path) or object  # one that does not import fails where it is built
        if issubclass(kind, CSVLogger | TensorBoardLogger):
            logger.init_args.name, logger.init_args.version = "", ""  # log straight into the run folder
        elif issubclass(kind, WandbLogger) and claim:
            continue_wandb_run(logger.init_args, run)


def logger_configs(cfg: Namespace) -> list[Namespace]:
    """The ``trainer.logger`` entries of a parsed config that name a class."""
    loggers = cfg.trainer.get("logger")
    if isinstance(loggers, Namespace):
        loggers = [loggers]
    return [lg for lg in loggers or [] if isinstance(lg, Namespace) and "class_path" in lg]


def new_run_folder(root: Path) -> Path:
    """The next ``version_N`` -- decided once for all processes of a run.

    Each process of a distributed run parses the command line itself, and one that starts after rank 0
    has created ``version_N`` would pick ``version_N+1``. Lightning starts the other local ranks as child
    processes of this one, so the choice travels to them in the environment; torchrun and srun start every
    process independently, so there the user exports the folder.
    """
    if os.environ.get(RUN_DIR_ENV):
        return Path(os.environ[RUN_DIR_ENV])
    launched = [v for v in ("RANK", "SLURM_PROCID") if int(os.environ.get(v, "0") or 0) > 0]
    if launched:
        raise ConfigError(
            f"This is process {launched[0]}={os.environ[launched[0]]} of a distributed launch: export "
            f"{RUN_DIR_ENV}=<run folder> (e.g. runs/mnist/ddp/version_$SLURM_JOB_ID) for every process, so "
            "that all of them write into the same run folder."
        )
    run = claim_run(root).root
    os.environ[RUN_DIR_ENV] = str(run)  # for the local ranks Lightning launches; claims() removes it after
    return run


def current_run() -> RunLayout | None:
    """The run folder this command claimed (or was given by a distributed launch), if any."""
    run = os.environ.get(RUN_DIR_ENV)
    return RunLayout(Path(run)) if run else None


def default_runs_root(configs: list[Any]) -> Path:
    """runs/<dataset>/<model>, named after the ``--config`` files.

    One file: its path under configs/ (configs/mnist/gan2014.yaml -> runs/mnist/gan2014). Composed files: the
    first file's folder, then the names of the others joined by ``+``, leaving out ``base``
    (mnist/base.yaml + mnist/dcgan.yaml + losses/wgan_gp.yaml -> runs/mnist/dcgan+wgan_gp).
    Logger fragments (configs/logger/) are left out: a run tracked in W&B shares its config's folder.
    """
    files = [Path(str(c)).resolve() for c in configs]
    if not files:
        return Path("runs/default")

    def relative(path: Path) -> Path:
        return path.relative_to(CONFIG_DIR) if path.is_relative_to(CONFIG_DIR) else Path(path.name)

    # the logger changes where a run is tracked, not what it trains: runs with any logger share a folder
    files = [files[0], *(c for c in files[1:] if relative(c).parts[0] != "logger")]
    if len(files) == 1:
        return Path("runs") / relative(files[0]).with_suffix("")
    names = [c.stem for c in files if c.stem != "base"] or ["base"]
    return Path("runs") / relative(files[0]).parent / "+".join(names)


def is_first_process() -> bool:
    """Not a process a distributed launch started besides the first (they write into the first one's folder)."""
    return all(int(os.environ.get(v, "0") or 0) == 0 for v in ("LOCAL_RANK", "RANK", "SLURM_PROCID"))


@contextmanager
def claims() -> Iterator[None]:
    """Around one command: a new folder it claimed but trained nothing in is removed if it fails; its locks and
    its exported folder are let go when it ends, so a later command in this process picks its own folder."""
    exported_before = RUN_DIR_ENV in os.environ
    try:
        yield
    except BaseException:
        if not exported_before and os.environ.get(RUN_DIR_ENV):  # the new folder this command claimed
            remove_if_untrained(Path(os.environ[RUN_DIR_ENV]))
        raise
    finally:
        if not exported_before:
            os.environ.pop(RUN_DIR_ENV, None)
        while _HELD_LOCKS:
            _HELD_LOCKS.pop().close()
