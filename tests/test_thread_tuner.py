"""callbacks/thread_tuner.py: the thread count a CPU run keeps as the machine's load changes, checked first in
simulated worlds where the faster count at every moment is known, then on a real fit.

(Whether the tuned runs are fast on a real machine is measured by `python -m benchmarks.user_path --threads`.)"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest
import torch

from callbacks.thread_tuner import ThreadChooser, ThreadTuner
from tests.conftest import run_cli
from tests.test_cli import QUICKSTART, SMALL

MS = 1e-3


class World:
    """A simulated run: each step at ``count`` threads takes ``step_time(count, now)`` seconds, times a
    log-normal jitter; the chooser reads this world's clock."""

    def __init__(self, step_time: Callable[[int, float], float], jitter: float = 0.0, seed: int = 0) -> None:
        self.step_time, self.jitter, self.now = step_time, jitter, 0.0
        self.rng = random.Random(seed)

    def run(self, seconds: float, **chooser) -> tuple[ThreadChooser, int, list[tuple[float, int]]]:
        """Train for ``seconds`` of simulated time; the chooser, the steps done, and (time, count) of every step."""
        tuner = ThreadChooser((1, 2), clock=lambda: self.now, **chooser)
        count, steps, trace = tuner.current, 0, []
        while self.now < seconds:
            took = self.step_time(count, self.now) * self.rng.lognormvariate(0, self.jitter)
            self.now += took
            steps += 1
            trace.append((self.now, count))
            count = tuner.step(took) or count
        return tuner, steps, trace


def steps_at(count: int, step_time: Callable[[int, float], float], seconds: float) -> int:
    """How many steps a fixed thread count does in ``seconds`` of the same world (no jitter)."""
    now, steps = 0.0, 0
    while now < seconds:
        now += step_time(count, now)
        steps += 1
    return steps


def time_at(count: int, trace: list[tuple[float, int]], start: float, end: float) -> float:
    """Seconds of the trace between ``start`` and ``end`` spent in steps at ``count`` threads."""
    return sum(t - before for (before, _), (t, c) in itertools.pairwise(trace) if c == count and start <= t < end)


def idle(count: int, now: float) -> float:  # two spinning threads 1.5x faster than one
    return {1: 15 * MS, 2: 10 * MS}[count]


def busy(count: int, now: float) -> float:  # beside a busy process, two spinning threads collapse 40x
    return {1: 25 * MS, 2: 1000 * MS}[count]


def load_between(start: float, end: float) -> Callable[[int, float], float]:
    return lambda count, now: busy(count, now) if start <= now < end else idle(count, now)


@pytest.mark.parametrize("jitter", [0.0, 0.2])
def test_on_an_idle_machine_it_keeps_two_threads_and_probing_costs_under_five_percent(jitter):
    tuner, steps, trace = World(idle, jitter).run(600)
    assert tuner.current == 2 and sum(count == 2 for _, count in trace) / len(trace) > 0.95
    assert steps >= 0.95 * steps_at(2, idle, 600)  # the idle target: no more than 5% slower
    assert tuner.interval == tuner.max_interval or jitter  # confirmed each time: the probes grew rare


@pytest.mark.parametrize("jitter", [0.0, 0.2])
def test_beside_a_busy_process_it_stays_on_one_thread_and_each_probe_costs_about_one_slow_step(jitter):
    tuner, steps, trace = World(busy, jitter).run(600)
    assert tuner.current == 1 and not tuner.switches
    probes = sum(1 for (_, a), (_, b) in itertools.pairwise(trace) if a == 1 and b == 2)
    slow_steps = sum(count == 2 for _, count in trace)
    assert 3 <= probes <= 10 and slow_steps <= 1.5 * probes  # given up after the first slow step
    assert steps >= steps_at(1, busy, 600) / 1.2  # the target under load: within 1.2x of the best count


@pytest.mark.parametrize("jitter", [0.0, 0.2])
def test_load_that_comes_and_goes_mid_run_is_followed_both_ways(jitter):
    world = load_between(200, 400)
    tuner, steps, trace = World(world, jitter).run(700)
    # the load arrives: two threads' steps slow 100x, seen in four steps, then one thread but for the probes of
    # two (about one slow step each, every 10-160 s)
    assert time_at(2, trace, 205, 400) < 0.1 * 195
    # it leaves: one thread is no slower than before, so only a periodic probe sees it, within the longest interval
    assert time_at(1, trace, 400 + tuner.max_interval + 5, 700) < 0.05 * (700 - 405 - tuner.max_interval)
    oracle = steps_at(2, world, 200) + steps_at(1, busy, 200) + steps_at(2, idle, 300)
    assert steps >= oracle / 1.2


def test_equal_counts_under_noise_do_not_thrash():
    tuner, _, _ = World(lambda count, now: 10 * MS, jitter=0.2).run(600)
    assert len(tuner.switches) <= 8  # switching between equals is harmless; probing all the time is not


def test_bad_settings_are_refused():
    for counts, kwargs in [((2, 2), {}), ((0, 2), {}), ((1, 2), {"steps": 1}), ((1, 2), {"margin": 0.9})]:
        with pytest.raises(ValueError, match="ThreadChooser"):
            ThreadChooser(counts, **kwargs)


@pytest.fixture
def machine_state(monkeypatch):
    """torch's thread count and determinism are process-wide: every test leaves them as it found them."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("gan_module.run.machine._TORCH_DEFAULT", 2)  # as on a 2-core machine, whatever runs this
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def test_the_cli_adds_the_tuner_on_auto_only_and_first(tmp_path, monkeypatch, machine_state):
    seen: list[list[type]] = []
    monkeypatch.setattr(
        "lightning.pytorch.Trainer.fit", lambda trainer, *a, **k: seen.append([type(c) for c in trainer.callbacks])
    )
    fit = ["fit", "--config", QUICKSTART, f"--trainer.default_root_dir={tmp_path}"]
    run_cli(*fit)
    run_cli(*fit, "--model.generator.init_args.hidden_dims=[16]", "--model.discriminator.init_args.hidden_dims=[16]")
    run_cli(*fit, "--threads=2")
    run_cli(*fit, "--trainer.deterministic=true")  # a thread count can move a reduction's last bit
    assert [ThreadTuner in callbacks for callbacks in seen] == [True, True, False, False]  # any size of network
    assert seen[0][0] is ThreadTuner  # first, so the steps it times leave out the other callbacks' work


def test_a_command_that_does_not_train_gets_no_tuner(tmp_path, monkeypatch, machine_state):
    run = ["--config", QUICKSTART, *SMALL, f"--trainer.default_root_dir={tmp_path}"]
    made: list[ThreadTuner] = []
    init = ThreadTuner.__init__
    monkeypatch.setattr(ThreadTuner, "__init__", lambda self, *a, **k: made.append(self) or init(self, *a, **k))
    run_cli("fit", *run, "--trainer.max_epochs=1")
    assert len(made) == 1  # the fit is timed
    run_cli("validate", *run, f"--ckpt_path={tmp_path / 'version_0' / 'checkpoints' / 'last.ckpt'}")
    assert len(made) == 1  # nothing trains in validate: nothing to time


def test_a_real_fit_probes_two_threads_and_keeps_what_it_decided(tmp_path, monkeypatch, machine_state):
    said: list[int | None] = []
    step = ThreadChooser.step
    monkeypatch.setattr(ThreadChooser, "step", lambda self, seconds: said.append(step(self, seconds)) or said[-1])
    run_cli(
        "fit", "--config", QUICKSTART, f"--trainer.default_root_dir={tmp_path}", "--budget.max_iterations=40",
        "--trainer.enable_progress_bar=false", "--trainer.limit_val_batches=0",
    )  # fmt: skip
    decisions = [count for count in said if count is not None]
    assert len(said) == 40 and decisions[0] == 2  # after 8 + 8 steps on one thread, a probe of two
    assert decisions[1] in (1, 2) and torch.get_num_threads() == decisions[-1]


def test_a_run_started_on_two_threads_idle_keeps_them_and_still_sees_load_that_arrives():
    tuner, _, trace = World(idle).run(150, start=2)
    assert tuner.current == 2 and all(count == 2 for _, count in trace)  # no probe of one thread before 160 s
    tuner, _, trace = World(load_between(30, 1000), jitter=0.2).run(150, start=2)
    assert tuner.current == 1 and time_at(2, trace, 40, 150) < 0.1 * 110  # the drift, not a periodic probe
