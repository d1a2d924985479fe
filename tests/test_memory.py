"""No setting exhausts memory: evaluation memory is flat in ``evaluation.num_samples`` for metrics fed batch by
batch, and counts a metric (or ``predict``) would have to hold beyond its limit are refused in one line before
anything runs (callbacks/evaluation.py, callbacks/prediction_writer.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from callbacks.evaluation import Evaluation
from gan_module import cli
from gan_module.metrics.registry import EvaluationMetric
from tests.conftest import ROOT
from tests.test_cli import QUICKSTART, SMALL

#: the two sample counts compared, MNIST-shaped: 4N - N = 60,000 samples of 3,136 bytes are 180 MB
N = 20_000
SAMPLE_BYTES = 28 * 28 * 4


class StreamedMean(EvaluationMetric):
    """A metric fed batch by batch (``streams``): the mean pixel, from running sums."""

    key = "streamed_mean"
    streams = True

    def reset(self, context):
        self.total, self.count = 0.0, 0

    def update(self, batch, context):
        self.total, self.count = self.total + batch.double().sum().item(), self.count + batch.numel()

    def compute(self, context):
        return {self.base_name(context): self.total / self.count}

    def score(self, samples, context):
        return {self.base_name(context): samples.double().mean().item()}


class WholeSetMean(EvaluationMetric):
    """The same number from all samples at once (the control: the callback must hold every sample for it)."""

    key = "whole_set_mean"

    def score(self, samples, context):
        return {self.base_name(context): samples.double().mean().item()}


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB: VmHWM, which starts afresh at exec (getrusage's ru_maxrss
    would carry over the peak of the pytest process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def evaluate_at(runs: list[tuple[str, int]]) -> None:
    """Run in a fresh process: evaluate a tiny MNIST-shaped generator with each (metric, sample count) in turn
    and print the peak resident memory (MB) after each, with the metric's value."""
    from gan_module import GAN
    from gan_module.networks import MLPDiscriminator, MLPGenerator

    torch.manual_seed(0)
    shape = (1, 28, 28)
    gan = GAN(
        generator=MLPGenerator(image_shape=shape, latent_dim=3, hidden_dims=[8], output="sigmoid", init_range=None),
        discriminator=MLPDiscriminator(image_shape=shape, hidden_dims=[8]),
        generator_optimizer=torch.optim.SGD,
        discriminator_optimizer=torch.optim.SGD,
    )
    trainer = SimpleNamespace(global_rank=0, world_size=1, datamodule=SimpleNamespace(image_shape=shape))
    measured = []
    for metric, size in runs:
        callback = Evaluation(metrics=[f"tests.test_memory.{metric}"], num_samples=size, batch_size=500)
        (value,) = callback.evaluate(trainer, gan).values()
        peak = peak_rss_mb()
        measured.append({"metric": metric, "size": size, "peak_mb": peak, "value": value})
    print(json.dumps(measured))


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the peak from Linux's /proc")
def test_evaluation_memory_is_flat_in_the_sample_count_for_metrics_fed_batch_by_batch():
    """Peak RSS of one process evaluating N, then 4N samples: flat when the metric is fed batch by batch; the
    control, a metric given all samples at once, grows by at least the samples it must hold."""
    warm_up = ("StreamedMean", 1000)  # whatever is set up on first use (lazy imports, allocator pools)
    runs = [warm_up, ("StreamedMean", N), ("StreamedMean", 4 * N), ("WholeSetMean", N), ("WholeSetMean", 4 * N)]
    code = f"from tests.test_memory import evaluate_at; evaluate_at({runs!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    streamed, whole = measured[1:3], measured[3:]
    for name, pair in (("fed batch by batch", streamed), ("whole set", whole)):  # shown with pytest -s
        print(f"peak RSS, {name}: " + ", ".join(f"{m['peak_mb']:.0f} MB at {m['size']:,}" for m in pair))
    linear = 3 * N * SAMPLE_BYTES / 2**20  # MB more at 4N than at N if every sample were held
    assert whole[1]["peak_mb"] - whole[0]["peak_mb"] > 0.6 * linear  # the measurement sees held samples ...
    assert streamed[1]["peak_mb"] - streamed[0]["peak_mb"] < 0.1 * linear  # ... and batch by batch holds none
    assert streamed[1]["value"] == pytest.approx(whole[1]["value"])  # the same number either way


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of the shrunk quickstart, one epoch: its folder."""
    root = tmp_path_factory.mktemp("runs")
    cli.main(["fit", "--config", QUICKSTART, *SMALL, "--trainer.max_epochs=1", f"--trainer.default_root_dir={root}"])
    return root / "version_0"


def refused(capsys, *args: str) -> list[str]:
    """The ``error:`` lines of a command that must stop with exit 2 and no traceback."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(list(args))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_an_evaluation_count_no_metric_can_hold_is_refused_in_one_line_before_anything_runs(trained, capsys):
    ckpt = trained / "checkpoints" / "last.ckpt"
    start = time.perf_counter()
    errors = refused(
        capsys, "test", "--config", QUICKSTART, *SMALL, f"--ckpt_path={ckpt}", "--evaluation.num_samples=1000000000"
    )
    assert time.perf_counter() - start < 30  # not 12 minutes of generating samples first
    assert errors == [
        "error: evaluation.num_samples=1000000000 is more than these metrics hold in memory: parzen at most 50,000 "
        "(every sample is a kernel centre, all held at once); kid at most 100,000 (every sample's features are kept "
        "to draw its subsets from); classes and modes at most 100,000 (all samples are given at once, in one "
        "tensor). Lower evaluation.num_samples or leave them out of evaluation.metrics (fid is fed batch by batch "
        "and takes any number)."
    ]
    assert not (trained / "test").exists()  # nothing written


def test_a_prediction_larger_than_the_writer_holds_is_refused_in_one_line_before_any_sample(
    trained, capsys, monkeypatch
):
    from gan_module.model.module import GAN

    steps: list[int] = []
    predict_step = GAN.predict_step
    monkeypatch.setattr(GAN, "predict_step", lambda self, *batch: steps.append(batch[1]) or predict_step(self, *batch))
    ckpt = trained / "checkpoints" / "last.ckpt"
    limit = "--prediction_writer.max_samples=100"
    errors = refused(capsys, "predict", "--config", QUICKSTART, *SMALL, f"--ckpt_path={ckpt}", limit)
    assert errors == [
        "error: predict would write 500 samples (one per image of the test split), more than "
        "prediction_writer.max_samples=100 (they are held in memory until saved). Pass "
        "--trainer.limit_predict_batches=<batches> to write fewer, or raise prediction_writer.max_samples."
    ]
    assert steps == [] and not (trained / "predict" / "samples.pt").exists()  # refused before the first batch
