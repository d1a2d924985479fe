"""gan_module/run/machine.py: the CPU threads a run takes, the start-up line that says so, and main.py's OpenMP wait
policy. (Whether the choice is fast is measured by `python -m benchmarks.user_path --threads`, not here.)"""

from __future__ import annotations

import pytest
import torch

from gan_module.run.machine import SMALL_WORK_FLOPS, choose_threads, forward_flops
from main import prefer_passive_openmp_wait
from tests.conftest import run_cli
from tests.test_cli import QUICKSTART, SMALL
from tests.test_module import tiny_gan


@pytest.fixture(autouse=True)
def keep_threads(monkeypatch):
    """Every test leaves torch's thread count and the thread variables as it found them."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
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


def test_auto_takes_one_thread_for_small_networks_and_keeps_the_default_for_large_ones(monkeypatch):
    model = tiny_gan()
    torch.set_num_threads(2)
    line = choose_threads("auto", model, 64, on_cpu=True)
    assert torch.get_num_threads() == 1
    assert line.startswith("CPU threads: 1 intra-op thread (G and D take") and "--threads N" in line
    monkeypatch.setattr("gan_module.run.machine.SMALL_WORK_FLOPS", 1.0)  # the same networks counted as large
    monkeypatch.setattr("gan_module.run.machine._TORCH_DEFAULT", 2)
    # a later run in the same process (a study worker's next candidate) gets torch's default back, not the 1
    assert "torch's default" in choose_threads("auto", model, 64, on_cpu=True) and torch.get_num_threads() == 2
    assert SMALL_WORK_FLOPS == 1e8


def test_a_count_in_the_config_wins_and_the_environment_wins_over_auto(monkeypatch):
    model = tiny_gan()
    torch.set_num_threads(2)
    assert "threads: 1 in the config" in choose_threads(1, model, 64, on_cpu=True)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # torch read it at start; auto leaves the count alone
    line = choose_threads("auto", model, 64, on_cpu=True)
    assert "OMP_NUM_THREADS=2 in the environment" in line and torch.get_num_threads() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert "accelerator" in choose_threads("auto", model, 64, on_cpu=False) and torch.get_num_threads() == 2


def test_main_asks_openmp_to_sleep_unless_the_user_chose_a_wait_policy():
    environ: dict[str, str] = {}
    prefer_passive_openmp_wait(environ)
    assert environ == {"OMP_WAIT_POLICY": "PASSIVE"}
    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"}):
        environ = dict(chosen)
        prefer_passive_openmp_wait(environ)
        assert environ == chosen


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
