"""Weights & Biases beside a run folder: one W&B run per folder (resumed fits continue it), with the full config."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import yaml
from jsonargparse import Namespace
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from gan_module.run.faults import naming

#: in the run folder: the id of its W&B run
WANDB_ID = "wandb_id"


def continue_wandb_run(init_args: Namespace, run: Path) -> None:
    """One W&B run per run folder: a resumed fit logs into the same W&B run, not a new one.

    W&B only continues a run when it is given the run's id, so the id is kept in ``<run>/wandb_id``, written
    by global rank 0 (the only rank that talks to W&B) the first time the folder is used.
    """
    if init_args.get("id") is None and init_args.get("version") is None:
        id_file = run / WANDB_ID
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


class WandbConfigSaver(SaveConfigCallback):
    """Writes config.yaml as usual and also sends the full resolved config to every W&B run (Lightning does not)."""

    def setup(self, trainer, pl_module, stage: str) -> None:
        # the run folder holds config.yaml (Lightning writes it into trainer.log_dir, which main.py points there);
        # a full disk fails its write, whose OSError names no file
        with naming(Path(trainer.default_root_dir) / self.config_filename):
            super().setup(trainer, pl_module, stage)

    def save_config(self, trainer, pl_module, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.config.update(config, allow_val_change=True)
