"""The exceptions main.py turns into one readable line and an exit code instead of a traceback."""

import signal


class ConfigError(ValueError):
    """A setting or an input file that must be changed before training can start."""


class RunFailedError(RuntimeError):
    """A study's run or worker failed for a reason of its own: the message names it, its exit and its log."""


class DivergenceError(RuntimeError):
    """A loss or gradient became NaN or infinite; raised before the optimizer step, so no weight is poisoned."""


class PreemptedError(RuntimeError):
    """Fitting stopped on SIGTERM or Ctrl-C after saving a checkpoint that resumes it exactly."""

    def __init__(self, signum: int, checkpoint: str, iteration: int) -> None:
        self.signum, self.checkpoint, self.iteration = signum, checkpoint, iteration
        name = signal.Signals(signum).name
        super().__init__(
            f"{name} received: stopped at iteration {iteration} and saved {checkpoint}. Resume exactly where it "
            "stopped with the same command plus --ckpt_path last (or --ckpt_path <that file>)."
        )

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention for "ended by signal N" (143 SIGTERM, 130 SIGINT)
