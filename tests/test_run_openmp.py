"""gan_module/run/openmp.py: the OpenMP wait policy main.py sets before torch loads, from the machine's load at start
(measured by the kernel's counters, with a real busy process beside it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gan_module.run import openmp

ROOT = Path(__file__).resolve().parent.parent
SPIN = "while True: pass"
needs_proc = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="the kernel's CPU counters are Linux's")


@needs_proc
def test_a_busy_process_beside_it_is_counted_as_about_one_core():
    other = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        busy = openmp.busy_cores(0.5)
    finally:
        other.kill()
        other.wait()
    assert busy is not None and 0.8 <= busy <= (os.cpu_count() or 1) + 0.05


def test_without_the_kernels_counters_the_load_is_unknown(tmp_path):
    assert openmp.busy_cores(0.01, stat=str(tmp_path / "absent")) is None
    (tmp_path / "stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\n")  # counters that do not move: no time passed
    assert openmp.busy_cores(0.01, stat=str(tmp_path / "stat")) is None


def test_this_processs_own_cpu_time_is_not_counted_as_load(tmp_path):
    """main.py checks its config files inside the window: its own CPU time is taken out, the others' kept. Counters
    written in /proc/stat's format: 150 busy ticks of 200 since the start, 50 of them (0.5 s) this process's."""
    stat = tmp_path / "stat"
    stat.write_text("cpu  1150 0 0 2850 0 0 0 0 0 0\n")  # busy 1150, total 4000
    clock = os.sysconf("SC_CLK_TCK")
    own = os.times().user + os.times().system
    start = openmp.CpuCounters(busy=1000, total=3800, own=own - 50 / clock, at=time.monotonic() - 1.0)
    busy = openmp.busy_cores(0.1, stat=str(stat), since=start)  # the window is over: no wait
    cores = os.cpu_count() or 1  # one tick of os.times() is 1/200 of the window per core
    assert busy == pytest.approx(100 / 200 * cores, abs=0.02 * cores)


def test_threads_sleep_beside_a_busy_machine_spin_on_an_idle_one_and_the_users_choice_wins():
    environ: dict[str, str] = {}
    assert openmp.choose_wait_policy(environ, 0.1).startswith("spinning") and environ == {}
    assert openmp.choose_wait_policy(environ, None) == "spinning, libgomp's default (the load is unknown here)"
    said = openmp.choose_wait_policy(environ, openmp.BUSY_CORES)
    assert environ == {"OMP_WAIT_POLICY": "PASSIVE"} and said == "PASSIVE (other processes used 0.5 cores at start)"
    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"}):
        environ = dict(chosen)
        assert openmp.choose_wait_policy(environ, 2.0).endswith("(yours)") and environ == chosen


@needs_proc
@pytest.mark.parametrize("beside", ["nothing", "a busy process"])
def test_main_py_says_the_policy_it_chose_in_the_start_up_line(tmp_path, beside):
    env = {k: v for k, v in os.environ.items() if k not in (*openmp.POLICY_VARIABLES, "OMP_NUM_THREADS")}
    others = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2 if beside != "nothing" else 0)]
    command = [sys.executable, "main.py", "fit", "--config", "configs/mixtures/base.yaml", "--trainer.fast_dev_run=1"]
    try:
        done = subprocess.run(
            [*command, f"--trainer.default_root_dir={tmp_path}"], cwd=ROOT, env=env, capture_output=True, text=True
        )
    finally:
        for other in others:
            other.kill()
            other.wait()
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stderr.splitlines() if "CPU threads:" in line)
    if beside == "nothing":
        # an idle machine is not promised on a shared CI runner: either reading, said as such
        assert "OpenMP wait policy: spinning, libgomp's default (" in line or "OpenMP wait policy: PASSIVE (" in line
    else:
        assert "OpenMP wait policy: PASSIVE (other processes used" in line
