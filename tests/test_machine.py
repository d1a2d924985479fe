"""gan_module/run/machine.py: the CPU threads a run takes and the start-up line that says so (the OpenMP wait policy:
tests/test_run_openmp.py; whether the choice is fast: `python -m benchmarks.user_path --threads`, not here)."""

from __future__ import annotations

import pytest
import torch

from gan_module.run.machine import SMALL_WORK_FLOPS, choose_threads, forward_flops
from tests.conftest import run_cli
from tests.test_cli import QUICKSTART, SMALL
from tests.test_module import tiny_gan


@pytest.fixture(autouse=True)
def keep_threads(monkeypatch):
    """Every test leaves torch's thread count and the thread variables as it found them."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(variable, raising=False)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_the_forward_flops_are_counted_and_grow_with_the_batch():
    model = tiny_gan()  # G 3 -> 8 -> 16 pixels, maxout D 16 -> 8x2 -> 1
    # G: 2*(3*8 + 8*16) per sample; D: 2*(16*16 + 8*1) (a maxout layer of 8 units x 2 pieces is 16 outputs)
    per_sample = 2 * (3 * 8 + 8 * 16) + 2 * (16 * 16 + 8 * 1)
    assert forward_flops(model, 10) == pytest.approx(10 * per_sample, rel=0.05)
    assert forward_flops(model, 100) == pytest.approx(10 * forward_flops(model, 10))


def test_auto_starts_where_the_machine_was_and_hands_the_counts_to_the_tuner(monkeypatch):
    model = tiny_gan()
    monkeypatch.setattr("gan_module.run.machine._TORCH_DEFAULT", 2)
    torch.set_num_threads(2)
    line, tune = choose_threads("auto", model, 64, on_cpu=True)  # in-process: the load at start was not measured
    assert torch.get_num_threads() == 1 and tune == (1, 2)
    assert line.startswith("CPU threads: 1 intra-op thread (G and D take") and "--threads N" in line
    assert "one thread until measured" in line and "timed on 1 and on 2 threads" in line
    monkeypatch.setattr("gan_module.run.openmp.busy_at_start", 0.1)  # main.py found the machine idle
    line, tune = choose_threads("auto", model, 64, on_cpu=True)
    assert torch.get_num_threads() == 2 and tune == (1, 2) and "the machine was idle at start" in line
    monkeypatch.setattr("gan_module.run.openmp.busy_at_start", 1.0)  # and busy
    assert choose_threads("auto", model, 64, on_cpu=True).tune == (1, 2) and torch.get_num_threads() == 1


def test_a_run_that_cannot_tune_takes_one_thread_for_small_networks_and_the_default_for_large_ones(monkeypatch):
    model = tiny_gan()
    monkeypatch.setattr("gan_module.run.machine._TORCH_DEFAULT", 2)
    line, tune = choose_threads("auto", model, 64, on_cpu=True, tunable=False)  # DDP, deterministic
    assert torch.get_num_threads() == 1 and tune is None and "too little to share between threads" in line
    monkeypatch.setattr("gan_module.run.machine.SMALL_WORK_FLOPS", 1.0)  # the same networks counted as large
    # a later run in the same process (a study worker's next candidate) gets torch's default back, not the 1
    line, tune = choose_threads("auto", model, 64, on_cpu=True, tunable=False)
    assert "torch's default" in line and torch.get_num_threads() == 2 and tune is None
    assert SMALL_WORK_FLOPS == 1e8


def test_a_count_in_the_config_wins_and_the_environment_wins_over_auto(monkeypatch):
    model = tiny_gan()
    torch.set_num_threads(2)
    assert choose_threads(1, model, 64, on_cpu=True) == (
        "CPU threads: 1 intra-op thread (threads: 1 in the config; OpenMP wait policy: spinning, libgomp's default); "
        "to change it, set `threads: N` in the config (--threads N) or OMP_NUM_THREADS.",
        None,
    )
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # torch read it at start; auto leaves the count alone
    line, tune = choose_threads("auto", model, 64, on_cpu=True)
    assert "OMP_NUM_THREADS=2 in the environment" in line and torch.get_num_threads() == 2 and tune is None
    monkeypatch.delenv("OMP_NUM_THREADS")
    line, tune = choose_threads("auto", model, 64, on_cpu=False)
    assert "accelerator" in line and torch.get_num_threads() == 2 and tune is None


def test_the_cli_says_the_choice_in_one_line_and_refuses_a_bad_count(tmp_path, capsys, caplog):
    def said() -> list[str]:
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("CPU threads:")]
        caplog.clear()
        return lines

    caplog.set_level("INFO")
    fit = ["fit", "--config", QUICKSTART, *SMALL, "--trainer.max_epochs=1", f"--trainer.default_root_dir={tmp_path}"]
    run_cli(*fit)
    lines = said()
    assert len(lines) == 1 and "G and D take" in lines[0]  # the quickstart: 0.26 GFLOP a batch, torch's default
    run_cli(*fit, "--threads=1")
    assert said()[0].startswith("CPU threads: 1 intra-op thread (threads: 1 in the config")
    with pytest.raises(SystemExit) as stop:
        run_cli("fit", "--config", QUICKSTART, "--threads=0", f"--trainer.default_root_dir={tmp_path}")
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "threads" in err[-1]
