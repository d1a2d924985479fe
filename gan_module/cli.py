"""``python main.py {fit,validate,test,predict} --config ...``: LightningCLI with run folders and clear errors.

What it adds to LightningCLI:

- shared defaults from ``configs/defaults.yaml`` (trainer, checkpointing, sample grid), so a model config
  only says what differs;
- the data's sample shape and number of classes linked into both networks, so no config repeats them (D's
  input is ``model.pack`` samples wide when packing);
- one folder per run, ``<trainer.default_root_dir>/version_N``, holding the logs, the images and the
  checkpoints; ``--ckpt_path last`` resumes the newest run *in its own folder*;
- a bad ``--ckpt_path``, a :class:`ConfigError`, a key written twice in a YAML file (:mod:`gan_module.run.yaml_files`)
  or a fault of the machine (a full disk, a read-only folder: :mod:`gan_module.run.faults`) ends with one
  readable line, not a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Literal, NoReturn

import torch
from jsonargparse import Namespace
from jsonargparse.typing import PositiveInt
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info

from callbacks.budget import IterationBudget
from callbacks.diagnostics import TrainingDiagnostics
from callbacks.evaluation import Evaluation
from callbacks.interpolation import LatentInterpolation
from callbacks.last_checkpoint import LastCheckpoint
from callbacks.prediction_writer import PredictionWriter
from callbacks.preemption import Preemption
from callbacks.sample_grid import SampleGrid
from callbacks.thread_tuner import ThreadTuner
from datamodules.base import ImageDataModule
from gan_module.errors import ConfigError, DivergenceError, PreemptedError, behind
from gan_module.model.module import GAN
from gan_module.model.packing import check_batch_size, packed_shape
from gan_module.run.faults import mask_credentials, os_fault_behind, stopped_by
from gan_module.run.folder import CONFIG_DIR, claims, current_run, resolve_run_folder
from gan_module.run.machine import choose_threads, stop_probing_for_absent_gpus
from gan_module.run.resume import changed_settings, describe, is_fixed
from gan_module.run.wandb import WandbConfigSaver
from gan_module.run.yaml_files import STRICT_MODE, YamlFileError, register_with_jsonargparse

DEFAULTS = CONFIG_DIR / "defaults.yaml"
SUBCOMMANDS = ("fit", "validate", "test", "predict")
#: the networks' settings the data decides (linked in when the model is built)
NETWORKS, LINKED_FROM_DATA = ("generator", "discriminator"), ("image_shape", "num_classes")


def _checked_pack(cfg: Namespace) -> int:
    """``model.pack``, once it is known to divide the batch size (before anything is built or written)."""
    pack = cfg.model.get("pack") or 1
    batch_size = (cfg.data.get("init_args") or Namespace()).get("batch_size")
    if batch_size is not None:
        check_batch_size(batch_size, pack)
    return pack


register_with_jsonargparse()


class OneLineErrorParser(LightningArgumentParser):
    """Bad input on the command line or in a config is one ``error:`` line (exit 2), not the 100-line usage.

    Its YAML loader refuses a key written twice, in a ``--config`` file and in every file a config names by path,
    and names the file and line of a syntax error (a tab as indentation).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("parser_mode", STRICT_MODE)
        super().__init__(*args, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:  # a subcommand's parser: the main parser reports
            super().error(message, ex)
        unloadable = behind(ex, YamlFileError)
        if unloadable is not None:  # jsonargparse's wrapping of it would bury the file, key and lines
            say(str(unloadable))
            sys.exit(2)
        prog = self.prog.replace(" [options]", "")
        flat = " ".join(message.split())
        say(f"{flat} ({prog} --help lists the options)")
        sys.exit(2)


def say(message: str) -> None:
    """The one ``error:`` line on stderr, with any password in a URL masked."""
    sys.stderr.write(f"error: {mask_credentials(message)}\n")


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
        parser.add_argument(
            "--threads",
            type=PositiveInt | Literal["auto"],
            default="auto",
            help="CPU intra-op threads: auto (one for small networks, torch's default otherwise; OMP_NUM_THREADS "
            "wins when set) or a count (gan_module/run/machine.py)",
        )
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
        self._saved_model = resolve_run_folder(cfg, subcommand, claim=printing is None)
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
            found = behind(err, ConfigError) or _rejected_setting(err)
            if found is None:
                raise
            raise found from None
        self._choose_threads()

    def _choose_threads(self) -> None:
        """The CPU threads for this run's networks, before the first step; one line says what and why."""
        subcommand = self.config.get("subcommand")
        cfg = self.config[subcommand] if subcommand is not None else self.config
        trainer = getattr(self, "trainer", None)
        on_cpu = trainer is None or isinstance(trainer.accelerator, CPUAccelerator)
        batch_size = getattr(self.datamodule, "batch_size", None)
        # a fit in one process, and numbers that may depend on the load (a count can move a reduction's last bit)
        tunable = (
            subcommand == "fit"
            and trainer is not None
            and trainer.world_size == 1
            and not torch.are_deterministic_algorithms_enabled()
        )
        choice = choose_threads(cfg.get("threads", "auto"), self.model, batch_size, on_cpu, tunable)
        rank_zero_info(choice.line)
        if choice.tune is not None:
            # first: its step times leave out the other callbacks' work
            trainer.callbacks.insert(0, ThreadTuner(choice.tune, start=torch.get_num_threads()))

    def _discriminator_input(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        return packed_shape(sample_shape, self._pack)

    def before_fit(self) -> None:
        stop_probing_for_absent_gpus()

    def after_fit(self) -> None:
        rank_zero_info(f"Run folder: {self.trainer.default_root_dir}")


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
    stop_starting = threading.current_thread() is threading.main_thread()
    if stop_starting:  # a SIGTERM before training starts ends the command as Ctrl-C would (the Preemption
        previous = signal.signal(signal.SIGTERM, _stopped_while_starting)  # callback takes over at train start)
    try:
        with claims():
            _run(cli, args)
    finally:
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
        say(str(err))
        sys.exit(2)
    except DivergenceError as err:  # the message says what to do; a traceback would bury it
        say(str(err))
        sys.exit(1)
    except PreemptedError as err:
        print(str(err), file=sys.stderr)
        sys.exit(err.exit_code)
    except Exception as err:
        # no space, a read-only or vanished folder, a path that is a file: the machine's fault, also where a
        # library raised its own error for it (torch's zip writer: a RuntimeError while handling the OSError)
        fault = os_fault_behind(err)
        if fault is None:
            raise
        say(stopped_by(fault, current_run()))
        sys.exit(1)
