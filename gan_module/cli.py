"""``python main.py {fit,validate,test,predict} --config ...``: LightningCLI with run folders and clear errors.

What it adds to LightningCLI:

- shared defaults from ``configs/defaults.yaml`` (trainer, checkpointing, sample grid), so a model config
  only says what differs;
- the data's sample shape and number of classes linked into both networks, so no config repeats them (D's
  input is ``model.pack`` samples wide when packing);
- one folder per run, ``<trainer.default_root_dir>/version_N``, holding the logs, the images and the
  checkpoints; ``--ckpt_path last`` resumes the newest run *in its own folder*;
- a bad ``--ckpt_path`` or a :class:`ConfigError` ends with one readable line, not a traceback.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import secrets
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import NoReturn

import torch
import yaml
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info

from callbacks.budget import IterationBudget
from callbacks.diagnostics import TrainingDiagnostics
from callbacks.evaluation import Evaluation
from callbacks.interpolation import LatentInterpolation
from callbacks.last_checkpoint import LastCheckpoint
from callbacks.prediction_writer import PredictionWriter
from callbacks.preemption import Preemption
from callbacks.sample_grid import SampleGrid
from datamodules.base import ImageDataModule
from gan_module.errors import ConfigError, DivergenceError, PreemptedError
from gan_module.module import GAN
from gan_module.packing import check_batch_size, packed_shape
from gan_module.resume import changed_settings, describe, is_fixed
from gan_module.run_layout import (
    RunBusyError,
    RunLayout,
    claim_run,
    latest_last_checkpoint,
    lock_folder,
    next_run,
    remove_if_untrained,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULTS = CONFIG_DIR / "defaults.yaml"
SUBCOMMANDS = ("fit", "validate", "test", "predict")
#: the run folder of a new fit, shared by every process of a distributed run (see _new_run_folder)
RUN_DIR_ENV = "GAN_RUN_DIR"
#: the networks' settings the data decides (linked in when the model is built)
NETWORKS, LINKED_FROM_DATA = ("generator", "discriminator"), ("image_shape", "num_classes")
_NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def _check_checkpoint(path: Path) -> dict:
    """The checkpoint, read once; one that cannot be read stops here with its name, not deep inside Lightning.

    It is read with ``weights_only=True``: tensors, numbers, strings and containers, what this project saves. A
    file asking for anything else (a pickle that would call a function or build an object) is refused before
    any of it runs, as unsafe, not as damaged, and without torch's advice to load it with ``weights_only=False``.
    """
    others = sorted(str(p) for p in path.parent.glob("*.ckpt") if p != path)
    instead = f" Resume from another checkpoint of the run: {', '.join(others)}." if others else ""
    if path.stat().st_size == 0:
        raise ConfigError(f"--ckpt_path {path} is empty (0 bytes: a save was cut off).{instead}")
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning would break the one line
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        if isinstance(err, pickle.UnpicklingError) and "Weights only load failed" in str(err):  # refused, not damaged
            named = re.search(r"GLOBAL (\S+)", str(err))  # the function or class the file asks for, if it names one
            asks = f" (it asks for {named.group(1)})" if named else ""
            raise ConfigError(
                f"--ckpt_path {path} holds objects this project never writes{asks}: refused for safety, nothing in "
                "it was run. Use a checkpoint this project wrote."
            ) from None
        reason = " ".join(str(err).split())  # one line, whatever torch wrote
        raise ConfigError(
            f"--ckpt_path {path} is not a readable checkpoint (truncated or corrupt: {reason}).{instead}"
        ) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"--ckpt_path {path} is not a Lightning checkpoint (it has no state_dict).")
    return ckpt


def _checked_pack(cfg: Namespace) -> int:
    """``model.pack``, once it is known to divide the batch size (before anything is built or written)."""
    pack = cfg.model.get("pack") or 1
    batch_size = (cfg.data.get("init_args") or Namespace()).get("batch_size")
    if batch_size is not None:
        check_batch_size(batch_size, pack)
    return pack


def _continue_wandb_run(init_args: Namespace, run: Path) -> None:
    """One W&B run per run folder: a resumed fit logs into the same W&B run, not a new one.

    W&B only continues a run when it is given the run's id, so the id is kept in ``<run>/wandb_id``, written
    by global rank 0 (the only rank that talks to W&B) the first time the folder is used.
    """
    if init_args.get("id") is None and init_args.get("version") is None:
        id_file = run / "wandb_id"
        if id_file.is_file():
            init_args.id = id_file.read_text().strip()
        else:
            init_args.id = secrets.token_hex(4)
            if os.environ.get("RANK", "0") == "0":
                run.mkdir(parents=True, exist_ok=True)
                id_file.write_text(init_args.id + "\n")
        init_args.resume = "allow"
    if init_args.get("name") is None:
        init_args.name = str(run)


def _stop_probing_for_absent_gpus() -> None:
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


class WandbConfigSaver(SaveConfigCallback):
    """Writes config.yaml as usual and also sends the full resolved config to every W&B run (Lightning does not)."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.config.update(config, allow_val_change=True)


class OneLineErrorParser(LightningArgumentParser):
    """Bad input on the command line or in a config is one ``error:`` line (exit 2), not the 100-line usage."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:  # a subcommand's parser: the main parser reports
            super().error(message, ex)
        prog = self.prog.replace(" [options]", "")
        flat = " ".join(message.split())
        sys.stderr.write(f"error: {flat} ({prog} --help lists the options)\n")
        sys.exit(2)


def _config_error_behind(err: BaseException | None) -> ConfigError | None:
    """The ConfigError a constructor raised, which jsonargparse wraps into its own errors when it builds a class."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, ConfigError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _rejected_setting(err: BaseException) -> ConfigError | None:
    """A setting a library class rejected while the config was built (torch's ``Invalid learning rate``,
    Lightning's exclusive checkpoint intervals, a network size of 0) as one line naming the class's reason."""
    innermost = err
    while innermost.__cause__ is not None:
        innermost = innermost.__cause__
    if not isinstance(innermost, ValueError | TypeError | RuntimeError | MisconfigurationException):
        return None
    reason = " ".join(str(innermost).split())
    return ConfigError(f"a setting was rejected while building the run ({type(innermost).__name__}: {reason}).")


class GANCLI(LightningCLI):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("parser_class", OneLineErrorParser)
        kwargs.setdefault("model_class", GAN)
        kwargs.setdefault("datamodule_class", ImageDataModule)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("save_config_callback", WandbConfigSaver)
        kwargs.setdefault("parser_kwargs", {sub: {"default_config_files": [str(DEFAULTS)]} for sub in SUBCOMMANDS})
        self._pack = 1  # model.pack of the parsed config, read when D's input shape is linked from the data
        self._saved_model: dict | None = None  # the model settings in --ckpt_path (read with the checkpoint check)
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        # the data decides the sample shape and the number of classes; networks never repeat them in YAML
        for network in NETWORKS:
            for attribute in LINKED_FROM_DATA:
                packed = network == "discriminator" and attribute == "image_shape"
                parser.link_arguments(
                    f"data.{attribute}",
                    f"model.{network}.init_args.{attribute}",
                    compute_fn=self._discriminator_input if packed else None,
                    apply_on="instantiate",
                )
        # the observation callbacks are config groups, so one key switches or tunes each (see defaults.yaml)
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(LearningRateMonitor, "lr_monitor")
        parser.add_lightning_class_args(SampleGrid, "sample_grid")
        parser.add_lightning_class_args(LatentInterpolation, "interpolation")
        parser.add_lightning_class_args(TrainingDiagnostics, "diagnostics")
        parser.add_lightning_class_args(Evaluation, "evaluation")
        parser.add_lightning_class_args(Preemption, "preemption")
        parser.add_lightning_class_args(IterationBudget, "budget")
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")

    def parse_arguments(self, parser, args) -> None:
        # --print_config is taken out and done here, after the run folder is resolved, so the printed config
        # shows the folder the command would use (jsonargparse prints and exits while parsing, before that)
        printing = None
        if args is None or isinstance(args, list | tuple):
            argv = list(sys.argv[1:] if args is None else args)
            printing = next((a for a in argv if a.split("=")[0] == "--print_config"), None)
            if printing is not None:
                argv.remove(printing)
                if args is None:
                    sys.argv[1:] = argv
                else:
                    args = argv
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        cfg = self.config[subcommand] if subcommand is not None else self.config
        self._pack = _checked_pack(cfg)
        if subcommand is None:
            return
        _check_training_length(cfg, subcommand)
        if cfg.trainer.get("enable_progress_bar") is False:
            # the shared defaults add a ProgressBar; Lightning refuses one when the bar is switched off
            callbacks = cfg.trainer.get("callbacks") or []
            cfg.trainer.callbacks = [c for c in callbacks if not str(c.get("class_path", "")).endswith("ProgressBar")]
        self._resolve_run_folder(cfg, subcommand, claim=printing is None)
        if printing is not None:
            skip_none = "skip_null" in printing
            sys.stdout.write(self._subcommand_parsers[subcommand].dump(cfg, skip_none=skip_none))
            sys.exit(0)

    def _parse_ckpt_path(self) -> None:
        """Keep this run's model settings when a checkpoint is given; stop if it is of another model.

        LightningCLI replaces the model settings with those saved in the checkpoint, which silently drops a
        learning rate changed on the command line (and trains a checkpoint's network sizes where the config
        names others). Here the command line wins: optimizer and scheduler settings may change (the module
        applies them after the checkpoint's states are restored and says so), the model itself may not.
        """
        saved, subcommand = self._saved_model, self.config.get("subcommand")
        if saved is None or subcommand is None:  # no checkpoint given
            return
        ckpt = self.config[subcommand].get("ckpt_path")
        current = self.config[subcommand]["model"].as_dict()
        for network in NETWORKS:  # not linked from the data yet: only their defaults are in the config
            for attribute in LINKED_FROM_DATA:
                (current[network].get("init_args") or {}).pop(attribute, None)
        fixed = {k: v for k, v in changed_settings(saved, current).items() if is_fixed(k)}
        if fixed:
            raise ConfigError(
                f"--ckpt_path {ckpt} holds another model than this config: {describe(fixed)}. Use the config it "
                "was trained with (its run folder's config.yaml); only optimizer, scheduler and training settings "
                "can change."
            )

    def instantiate_classes(self) -> None:
        """Build every object of the config -- and the optimizers and schedulers, once, on the networks -- so a
        value a constructor rejects is one line before training, whatever class rejects it."""
        try:
            super().instantiate_classes()
            if self.config.get("subcommand") == "fit":
                self.model.configure_optimizers()  # built and dropped: Lightning builds its own at fit start
        except Exception as err:
            found = _config_error_behind(err) or _rejected_setting(err)
            if found is None:
                raise
            raise found from None

    def _discriminator_input(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        return packed_shape(sample_shape, self._pack)

    def _resolve_run_folder(self, cfg: Namespace, subcommand: str, claim: bool = True) -> None:
        """Pick the run folder and point the checkpoints and loggers into it (``claim=False``: only name it)."""
        root = Path(cfg.trainer.default_root_dir or self._default_runs_root(cfg))
        ckpt = cfg.get("ckpt_path")
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
            self._saved_model = _check_checkpoint(path).get("hyper_parameters") or {}
        elif subcommand in ("validate", "test"):
            raise ConfigError(
                f"{subcommand} needs --ckpt_path (last, or a checkpoint file): without one it would score an "
                "untrained generator."
            )
        ckpt_run = Path(ckpt).resolve().parent.parent if ckpt is not None else None
        if subcommand == "fit" and ckpt_run is not None and RunLayout(ckpt_run).number is not None:
            run = ckpt_run  # resuming: continue in the same folder
        elif subcommand == "fit" or ckpt_run is None:
            run = self._new_run_folder(root) if claim else next_run(root).root
        else:  # evaluating a trained run: beside its training logs, not over them
            run = RunLayout(ckpt_run).evaluation(subcommand).root
        if claim and subcommand == "fit" and _is_first_process():
            try:  # before anything is written: one writer per run folder
                _HELD_LOCKS.append(lock_folder(Path(run)))
            except RunBusyError as err:
                raise ConfigError(str(err)) from None
        cfg.trainer.default_root_dir = str(run)
        if cfg.checkpoint.dirpath is None:
            cfg.checkpoint.dirpath = str(RunLayout(run).checkpoints)
        for logger in self._logger_configs(cfg):
            if logger.get("init_args") is None:
                logger.init_args = Namespace()
            logger.init_args.save_dir = str(run)
            kind = _logger_class(logger.class_path)
            if issubclass(kind, CSVLogger | TensorBoardLogger):
                logger.init_args.name, logger.init_args.version = "", ""  # log straight into the run folder
            elif issubclass(kind, WandbLogger) and claim:
                _continue_wandb_run(logger.init_args, run)

    def _new_run_folder(self, root: Path) -> Path:
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
        os.environ[RUN_DIR_ENV] = str(run)  # for the local ranks Lightning launches; main() removes it after
        return run

    @staticmethod
    def _default_runs_root(cfg: Namespace) -> Path:
        """runs/<dataset>/<model>, named after the ``--config`` files.

        One file: its path under configs/ (configs/mnist/gan2014.yaml -> runs/mnist/gan2014). Composed files: the
        first file's folder, then the names of the others joined by ``+``, leaving out ``base``
        (mnist/base.yaml + mnist/dcgan.yaml + losses/wgan_gp.yaml -> runs/mnist/dcgan+wgan_gp).
        Logger fragments (configs/logger/) are left out: a run tracked in W&B shares its config's folder.
        """
        configs = [Path(str(c)).resolve() for c in cfg.get("config") or []]
        if not configs:
            return Path("runs/default")

        def relative(path: Path) -> Path:
            return path.relative_to(CONFIG_DIR) if path.is_relative_to(CONFIG_DIR) else Path(path.name)

        # the logger changes where a run is tracked, not what it trains: runs with any logger share a folder
        configs = [configs[0], *(c for c in configs[1:] if relative(c).parts[0] != "logger")]
        if len(configs) == 1:
            return Path("runs") / relative(configs[0]).with_suffix("")
        names = [c.stem for c in configs if c.stem != "base"] or ["base"]
        return Path("runs") / relative(configs[0]).parent / "+".join(names)

    @staticmethod
    def _logger_configs(cfg: Namespace) -> list[Namespace]:
        loggers = cfg.trainer.get("logger")
        if isinstance(loggers, Namespace):
            loggers = [loggers]
        return [lg for lg in loggers or [] if isinstance(lg, Namespace) and "class_path" in lg]

    def before_fit(self) -> None:
        _stop_probing_for_absent_gpus()

    def after_fit(self) -> None:
        rank_zero_info(f"Run folder: {self.trainer.default_root_dir}")


def _logger_class(class_path: str) -> type:
    """The logger class a config names (``object`` when it cannot be imported: it then fails where built)."""
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name) if module else object
    except (ImportError, AttributeError):
        return object


#: the run folders this process writes (their OS locks; released when a command ends, or by the kernel)
_HELD_LOCKS: list = []


def _is_first_process() -> bool:
    """Not a process a distributed launch started besides the first (they write into the first one's folder)."""
    return all(int(os.environ.get(v, "0") or 0) == 0 for v in ("LOCAL_RANK", "RANK", "SLURM_PROCID"))


def _check_training_length(cfg: Namespace, subcommand: str) -> None:
    """``trainer.max_steps`` / ``max_epochs``: -1 (no limit) or a count; a fit that would train nothing says so."""
    for key in ("max_steps", "max_epochs"):
        value = cfg.trainer.get(key)
        if value is not None and value < -1:
            raise ConfigError(f"trainer.{key}={value}: give -1 (no limit) or a number of {key[4:]} >= 0.")
    if subcommand == "fit" and (cfg.trainer.get("max_steps") == 0 or cfg.trainer.get("max_epochs") == 0):
        raise ConfigError(
            "trainer.max_steps=0 / max_epochs=0 would train nothing and leave an empty run: give a positive "
            "number (or -1 for no limit), or use `test`/`predict` to score a trained run."
        )


def main(args: list[str] | None = None, cli: type[GANCLI] = GANCLI) -> None:
    """``python main.py ARGS``; ``cli`` is GANCLI or a subclass (the study's fit-then-test)."""
    exported_before = RUN_DIR_ENV in os.environ
    stop_starting = threading.current_thread() is threading.main_thread()
    if stop_starting:  # a SIGTERM before training starts ends the command as Ctrl-C would (the Preemption
        previous = signal.signal(signal.SIGTERM, _stopped_while_starting)  # callback takes over at train start)
    try:
        _run(cli, args)
    except BaseException:
        if not exported_before and os.environ.get(RUN_DIR_ENV):  # the new folder this command claimed
            remove_if_untrained(Path(os.environ[RUN_DIR_ENV]))
        raise
    finally:
        if not exported_before:  # a later run in this process (tests, notebooks) picks its own folder
            os.environ.pop(RUN_DIR_ENV, None)
        while _HELD_LOCKS:
            _HELD_LOCKS.pop().close()
        if stop_starting:
            signal.signal(signal.SIGTERM, previous)


def _stopped_while_starting(signum: int, frame) -> NoReturn:
    print("SIGTERM before training started: stopping; nothing was trained, and the new run folder is removed.")
    raise SystemExit(143)


def _run(cli: type[GANCLI], args: list[str] | None) -> None:
    """Run the command; the errors a user can act on become one line and an exit code, not a traceback."""
    try:
        cli(args=args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except DivergenceError as err:  # the message says what to do; a traceback would bury it
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except PreemptedError as err:
        print(str(err), file=sys.stderr)
        sys.exit(err.exit_code)
    except OSError as err:  # no space, a read-only or vanished folder, a path that is a file: the machine's fault
        print(f"error: {_os_fault(err)}", file=sys.stderr)
        sys.exit(1)


def _os_fault(err: OSError) -> str:
    """One line: what the system refused, where, and what is safe to resume from."""
    where = f" ({err.filename})" if err.filename else ""
    text = f"{err.strerror or err}{where}: the command stopped."
    run = os.environ.get(RUN_DIR_ENV)
    last = RunLayout(Path(run)).last_checkpoint if run else None
    if last is not None and last.is_file():
        text += f" The last good checkpoint is {last}: fix the cause, then run the same command with --ckpt_path last."
    return text
