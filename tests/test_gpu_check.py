"""benchmarks/gpu_check.py: the CPU path runs every row it can, says "no GPU", and its table holds what it promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import gpu_check

ROOT = Path(__file__).resolve().parent.parent
LOSSES = ["non-saturating", "WGAN-GP", "hinge", "LSGAN"]


def test_delta_measures_the_trend_in_units_of_the_reference_scale():
    reference = [1.0, -1.0] * 50  # RMS 1, trend 0: alternating noise averages out in each window
    assert gpu_check.delta(reference, reference) == 0.0
    assert gpu_check.delta([x + 0.1 for x in reference], reference) == pytest.approx(0.1)
    assert gpu_check.delta([-x for x in reference], reference) == pytest.approx(0.0, abs=1e-12)  # noise, no trend
    assert gpu_check.delta([2 * x + 3 for x in [1.0] * 100], [1.0] * 100) == pytest.approx(4.0)
    assert len(gpu_check.trend([1.0, 2.0, 3.0])) == 3  # a curve shorter than 10 steps: one window a step


def _rows(out: str) -> dict[str, list[str]]:
    """The table's rows by check name: [measured, tolerance, result]."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            rows[cells[1]] = cells[2:]
    return rows


@pytest.mark.slow
def test_the_cpu_path_prints_one_table_with_every_row_and_passes(tmp_path):
    env = os.environ | {"CUDA_VISIBLE_DEVICES": ""}  # the CPU path on any machine
    cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--inception-weights", str(tmp_path / "absent.pth")]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "no GPU" in out and out.count("| # | check |") == 1
    rows = _rows(out)
    assert len(rows) == 12, out

    ddp = rows["DDP, GANDDPStrategy, 2 CPU processes (gloo), DCGAN 32x32, 2 it"]
    assert ddp[0].startswith("2 ranks, weights identical") and ddp[2] == "pass"

    for loss in LOSSES:  # bf16 against fp32 with every loss: finite, within the stated tolerance
        measured, tolerance, result = rows[f"bf16-mixed vs fp32, {loss}, 4 it"]
        assert result == "pass" and "losses finite" in measured and tolerance == "finite, delta <= max(0.1, 2 x seed)"
        deltas = [float(d) for d in re.findall(r"delta ([\d.]+)", measured)]
        seeds = [float(s) for s in re.findall(r"seed ([\d.]+)", measured)]
        assert len(deltas) == len(seeds) == 2
        assert all(d <= max(0.1, 2 * s) for d, s in zip(deltas, seeds, strict=True))
    fp16 = rows["16-mixed (fp16) vs fp32, every loss"]
    assert fp16[0] == "skipped: no GPU (Lightning has no fp16 autocast on a CPU)" and fp16[2] == "skipped"

    compiled = rows["torch.compile G and D, fp32, non-saturating, 4 it"]
    assert compiled[2] == "pass" and "losses finite" in compiled[0]

    for network in ("DCGAN", "ResNet"):
        measured = rows[f"{network} 32x32 images/s, 32-true, batch 8"][0]
        module, bare, ratio = (float(x) for x in re.findall(r"[\d.]+", measured.replace("32x32", ""))[:3])
        assert module > 0 and bare > 0 and ratio == pytest.approx(module / bare, rel=0.2)  # rounded figures

    fid = rows["Inception FID (torchmetrics)"]
    assert fid[0].startswith("skipped: no Inception weights offline") and fid[2] == "skipped"
    assert re.match(r"this process [\d.]+ GiB, largest DDP rank [\d.]+ GiB", rows["peak memory (peak RSS)"][0])
    assert re.match(r"\d+ s", rows["wall time"][0])
    assert "0 failed, 6 passed, 2 skipped" in out
