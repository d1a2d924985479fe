"""The exceptions main.py turns into one readable line and an exit code instead of a traceback."""

import signal


def behind(err: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    """The first exception of ``kind`` in ``err``'s chain (what it was raised from, or while handling): the error a
    constructor raised, which libraries wrap into their own."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, kind):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


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
