"""A CSV logger that a resumed run appends to.

Lightning's CSVLogger deletes ``metrics.csv`` when its folder already holds one, so resuming a run in its own
folder (``--ckpt_path last``) would erase the history of everything before the interruption.
"""

from __future__ import annotations

import csv
import os
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from gan_module.run.faults import naming


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        # keep the earlier rows, and their columns, so new rows line up under the same header
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = sorted(csv.DictReader(file).fieldnames or [])

    # a full disk fails the write or the close, whose OSError names no file: these name theirs
    def save(self) -> None:
        with naming(self.metrics_file_path):
            super().save()

    def log_hparams(self, params: dict[str, Any]) -> None:
        with naming(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE)):
            super().log_hparams(params)


class ResumableCSVLogger(CSVLogger):
    """``lightning.pytorch.loggers.CSVLogger`` that appends to an existing ``metrics.csv`` instead of deleting it.

    Steps re-run after a crash (those after the last checkpoint) appear twice; the later rows are the ones the
    resumed run produced.
    """

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        """Rows logged so far reach the disk whenever a periodic checkpoint is saved (``last.ckpt`` flushes
        before it saves), so a run killed later resumes without a gap in ``metrics.csv``."""
        self.save()

    @property
    @rank_zero_experiment  # other ranks get a dummy, as with Lightning's loggers
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
