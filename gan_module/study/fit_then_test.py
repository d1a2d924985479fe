"""One study run as one CLI: ``main.py fit``, then ``main.py test --ckpt_path <its last.ckpt>``, parsed and built once.

Run as two commands, every run of a study pays for building LightningCLI's parser, parsing and validating the
composed configs, instantiating the networks, and reading the checkpoint's hyperparameters twice: ~1.2 s a run
on a 2-core CPU, as much as a sixth of a 600-iteration mixtures run. Here the fit's trainer, model and data go
on to test the checkpoint the fit ended with, writing where ``main.py test`` would (``<run>/test/``), so a
study run's folder is laid out like one a user makes by hand.
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from callbacks.last_checkpoint import last_checkpoint_path
from gan_module.cli import GANCLI
from gan_module.run.layout import RunLayout


def logger_in(logger: Logger, folder: Path) -> Logger:
    """The logger that ``main.py test`` would have: file loggers write straight into ``folder``; a W&B (or any
    other) logger keeps logging to the run it logged the fit to, as a resumed W&B run does."""
    if isinstance(logger, CSVLogger | TensorBoardLogger):
        return type(logger)(save_dir=folder, name="", version="", prefix=logger._prefix)
    return logger


class FitThenTestCLI(GANCLI):
    """``fit`` as given; when it ends normally (its budget or max_epochs), ``test`` of its ``last.ckpt``.

    A fit that diverges or is preempted raises before :meth:`after_fit`, so nothing is tested.
    """

    def after_fit(self) -> None:
        super().after_fit()
        last = last_checkpoint_path(self.trainer)
        folder = RunLayout(Path(self.trainer.default_root_dir)).evaluation("test").root
        self.trainer.loggers = [logger_in(logger, folder) for logger in self.trainer.loggers]
        self.trainer._default_root_dir = str(folder)
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=str(last))
