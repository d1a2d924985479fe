"""benchmarks/speed.py: the bare loop does exactly the module's work, so the speed ratio compares like with like.

No timing is asserted (the machine is shared); only that both loops train the same weights from the same seed
and that the benchmark reports what it promises.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

from benchmarks import overhead, speed
from gan_module import GAN
from tests.conftest import SHARED_MNIST, needs_shared_mnist, run_cli

CPU = speed.Options(device="cpu", precision="32-true")
SMALL = {"batch_size": 8, "num_images": 96}  # 80 training images: 10 batches an epoch, so 15 iterations cross one


def _train_both(
    name: str, iterations: int, options: speed.Options
) -> tuple[speed.Setup, speed.Setup, dict[str, torch.Tensor]]:
    setup = speed.build(name, SMALL["batch_size"])
    twin = copy.deepcopy(setup)
    initial = copy.deepcopy(setup.generator.state_dict())
    # One thread: the thread count is the one known way for the same ops to reduce in another order (the BLAS may
    # use fewer threads on a busy machine), and Adam turns a last-bit difference in a near-zero gradient into a
    # whole lr-sized step. Seen once in CI on two threads (dcgan's weights 2e-4 apart: its lr); not reproduced in
    # ten runs here, idle or loaded.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(1)  # the same noise and dropout draws on both sides
        speed.bare_loop(setup, iterations, 0, options, SMALL["num_images"])
        torch.manual_seed(1)
        speed.lightning_loop(twin, iterations, 0, options, SMALL["num_images"])
    finally:
        torch.set_num_threads(threads)
    return setup, twin, initial


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("mlp2014", CPU),
        ("dcgan", CPU),
        # Lightning's autocast (no weight cache, backward and step inside) and its memory layout, mirrored
        ("mlp2014", speed.Options(precision="bf16-mixed")),
        ("dcgan", speed.Options(channels_last=True)),
    ],
    ids=["mlp2014", "dcgan", "mlp2014-bf16", "dcgan-channels_last"],
)
def test_the_bare_loop_and_the_module_train_identical_weights(name, options):
    # 15 iterations: past the first epoch's end (sampler epochs must match) and enough scheduler steps to matter
    setup, twin, initial = _train_both(name, 15, options)
    for ours, theirs in ((setup.generator, twin.generator), (setup.discriminator, twin.discriminator)):
        state, other = ours.state_dict(), theirs.state_dict()
        assert state.keys() == other.keys()
        for key, value in state.items():  # weights and batch-norm statistics alike
            # bit for bit: the same ops in the same order on CPU. A tolerance would hide a missing scheduler
            # step, whose effect after 15 steps of lr / 1.000004**t is ~1e-9.
            assert torch.equal(value, other[key]), f"{name}: {key} differs"
    assert any(not torch.equal(initial[k], v) for k, v in setup.generator.state_dict().items())  # it trained


def test_the_benchmark_reports_both_speeds_and_their_ratio(tmp_path, capsys):
    path = tmp_path / "speed.json"
    argv = ["--models", "mlp2014,dcgan", "--iterations", "3", "--warmup", "1", "--repeats", "1"]
    results = speed.main([*argv, "--batch-size", "8", "--device", "cpu", "--json", str(path)])
    assert [r["model"] for r in results] == ["mlp2014", "dcgan"]
    for row in results:
        assert row["device"] == "cpu" and row["precision"] == "32-true" and row["batch_size"] == 8
        assert row["bare_it_s"] > 0 and row["lightning_it_s"] > 0
        assert row["ratio"] == pytest.approx(row["lightning_it_s"] / row["bare_it_s"])
        assert row["span_ratio"] > 0 and len(row["rounds"]) == 1
    out = capsys.readouterr().out
    assert "| mlp2014 (batch 8) | cpu | 32-true |" in out and "| dcgan (batch 8) | cpu | 32-true |" in out
    assert f"torch {torch.__version__}" in out and "torch threads" in out
    saved = json.loads(path.read_text())
    assert saved["results"] == results and saved["machine"]["torch"] == torch.__version__


def test_the_command_line_refuses_what_it_cannot_measure():
    with pytest.raises(SystemExit):
        speed.parse_args(["--models", "resnet"])
    with pytest.raises(SystemExit):
        speed.parse_args(["--device", "cpu", "--precision", "16-mixed"])
    assert speed.PRECISIONS[speed.parse_args(["--precision", "32"]).precision] == "32-true"


def test_the_overhead_breakdown_names_the_pieces_and_puts_the_module_back(capsys):
    log, step = GAN.log, GAN._step
    text = overhead.main(["--iterations", "2", "--warmup", "1", "--batch-size", "8"])
    for piece in (
        "GAN.training_step",
        "GAN.discriminator_step",
        "gradient_norm()",
        "LightningOptimizer.step",
        "outside",
    ):
        assert piece in text
    assert text in capsys.readouterr().out
    assert GAN.log is log and GAN._step is step and "log" not in vars(GAN)  # the timers are gone


def test_the_users_path_benchmark_reads_speed_between_logged_rows_and_runs_the_bare_loop():
    from benchmarks import user_path

    # rows of (iterations, seconds): 100 iterations in the 2 s after warm-up, the start-up row excluded
    assert user_path.clock_rate([(10, 5.0), (50, 6.0), (100, 6.5), (150, 8.5)], warmup=50) == pytest.approx(40.0)
    rate = user_path.bare_loop(user_path.BY_NAME["mixtures"], iterations=5, warmup=1)
    assert rate > 0
    row = {"recipe": "mixtures", "window": "1..6", "fit_it_s": 90.0, "bare_it_s": 100.0, "ratio": 0.9}
    row |= {"ratio_differenced": 0.85}
    assert "| mixtures | 1..6 | 90.0 | 100.0 | 0.90 | 0.85 |" in user_path.table([row])
    row["ratio_differenced"] = float("nan")  # not measured (no --differenced)
    assert "| mixtures | 1..6 | 90.0 | 100.0 | 0.90 | - |" in user_path.table([row])
    for recipe in user_path.RECIPES:  # every recipe names shipped files
        configs = [recipe.args[i + 1] for i, a in enumerate(recipe.args) if a == "--config"]
        assert configs and all((user_path.ROOT / c).is_file() for c in configs)


def test_parzen_references_rank_blur_above_real_digits_above_binarised_above_the_mean(tmp_path, capsys):
    from benchmarks import parzen_references

    rows = parzen_references.main(["--root", str(tmp_path)])  # no official digits: 500 test digits from the pool
    scores = [rows[name].mean for name in parzen_references.EDITS]
    real, blurred, noisy, binarised, mean = scores
    assert blurred > real > noisy > binarised > mean  # Parzen rewards blur (Theis et al. 2016)
    assert 150 < real < 250 and mean < 0
    assert "4000 centres, sigma chosen on 500 validation digits, 500 test digits" in capsys.readouterr().out


def test_parzen_references_of_a_checkpoint_score_the_samples_evaluation_scores(tmp_path, monkeypatch):
    from benchmarks import parzen_references
    from tests.test_cli import QUICKSTART, SMALL

    # a tanh model: the benchmark's data (--root, [0, 1]) and the model's range differ, as a user's may
    tanh = ["--model.generator.init_args.output=tanh", "--data.init_args.value_range=[-1,1]"]
    common = ["--config", QUICKSTART, *SMALL, *tanh, f"--data.init_args.root={tmp_path}"]
    run_cli("fit", *common, f"--trainer.default_root_dir={tmp_path / 'runs'}", "--trainer.max_epochs=1")
    ckpt = tmp_path / "runs" / "version_0" / "checkpoints" / "last.ckpt"
    monkeypatch.setattr(parzen_references, "PAPER_CENTRES", 2000)  # fewer samples: seconds, not a minute
    metrics = ["--evaluation.metrics=[parzen]", "--evaluation.num_samples=2000"]
    run_cli("test", *common, *metrics, f"--ckpt_path={ckpt}")
    logged = (tmp_path / "runs" / "version_0" / "test" / "metrics.csv").read_text().splitlines()
    row = dict(zip(logged[0].split(","), logged[1].split(","), strict=True))
    rows = parzen_references.main(["--root", str(tmp_path), "--checkpoint", str(ckpt)])
    # the same samples (evaluation's seeded noise) and the same protocol as `main.py test`
    assert rows["as they are"].mean == pytest.approx(float(row["eval/parzen_2k_test"]), rel=1e-6)  # logged in fp32
    assert rows["blurred (3x3 binomial)"].mean != rows["as they are"].mean
    assert rows["their mean image, once per centre"].mean < rows["as they are"].mean


def test_parzen_references_fid_of_real_digits_is_near_zero_and_a_missing_checkpoint_is_one_line(
    tmp_path, monkeypatch, capsys
):
    from benchmarks import parzen_references

    monkeypatch.setenv("HOME", str(tmp_path))  # the classifier and statistics caches under ~/.cache
    monkeypatch.setattr(parzen_references, "FID_FEATURE", "classifier")  # Inception: minutes on this CPU
    fid = {}
    for edit in ([], ["their mean image, once per centre"]):
        parzen_references.main(["--root", str(tmp_path / "data"), "--fid", *edit])
        printed = capsys.readouterr().out.splitlines()[-1]
        assert printed.startswith("eval/fid_classifier_4k_test of the centres ")
        fid[printed.split(": ")[0].split("centres ")[1]] = float(printed.split(": ")[1])
    assert 0 < fid[parzen_references.AS_THEY_ARE] < 10  # training against test digits: near 0 (500 test digits)
    assert fid["their mean image, once per centre"] > 20 * fid[parzen_references.AS_THEY_ARE]
    assert list((tmp_path / ".cache" / "gan-selection" / "real-statistics").glob("fid-*.pt"))
    with pytest.raises(SystemExit):
        parzen_references.main(["--checkpoint", str(tmp_path / "missing.ckpt")])
    assert "missing.ckpt: no such file" in capsys.readouterr().err


@pytest.mark.slow
@needs_shared_mnist
def test_parzen_ceiling_of_real_digits_on_the_full_data_is_the_published_243(monkeypatch, capsys):
    from benchmarks import parzen_references

    monkeypatch.setattr(parzen_references, "EDITS", {"real": parzen_references.EDITS["as they are"]})
    rows = parzen_references.main(["--full", "--root", str(SHARED_MNIST)])
    # ../shared/NOTES.md: 10,000 real training digits score 243.1 +- 2.2 nats on the 2014 protocol
    assert 238 < rows["real"].mean < 248 and rows["real"].sigma == pytest.approx(0.167, abs=1e-3)
    assert "10000 centres, sigma chosen on 1000 validation digits, 10000 test digits" in capsys.readouterr().out


def test_the_image_folder_benchmark_reports_both_loaders_and_the_listing_memory(capsys):
    from benchmarks import image_folder

    image_folder.main(["--images", "200", "--size", "64", "--resolution", "32", "--workers", "0", "--rounds", "1",
                       "--warmup", "1", "--names", "1000"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    row = next(line.split() for line in out if line.strip().startswith("0 "))
    module, bare, ratio = (float(v) for v in row[1:])
    assert module > 0 and bare > 0 and ratio == pytest.approx(module / bare, abs=0.01)
    listings = [line for line in out if "1,000 files in" in line]
    assert len(listings) == 2 and "module (PathTable)" in listings[0] and "make_dataset" in listings[1]
    held = [int(line.split("objects held: ")[1].split(" ")[0]) for line in listings]
    assert held[0] == len("class_000/image_000_0000000.png") + 8 and held[0] < held[1]  # the name's bytes + offset


def test_the_thread_rows_time_every_setting_idle_and_busy_and_state_the_targets(tmp_path, monkeypatch):
    from benchmarks import user_path

    speeds = {"auto": 100.0, "1 thread": 110.0, "2 threads": 50.0, "before": 90.0}
    started: list[tuple[str, tuple[str, ...], dict]] = []

    def fake_fit(recipe, iterations, folder, extra=(), env=None):
        name = folder.name.rsplit("-", 1)[-1]  # <recipe>-<condition>-<setting>
        started.append((folder.name, extra, env or {}))
        rate = speeds[name]
        return {"wall": 1.0, "rows": [(recipe.warmup, 0.0), (recipe.warmup + 100, 100 / rate)]}

    monkeypatch.setattr(user_path, "run_fit", fake_fit)
    rows = user_path.thread_rows(user_path.THREAD_RECIPES[:1], tmp_path)
    assert [r["condition"] for r in rows] == ["idle", "busy"] and len(started) == 8
    assert rows[0]["auto_vs_best"] == pytest.approx(1.1) and rows[0]["auto_vs_before"] == pytest.approx(100 / 90)
    before = [(extra, env) for name, extra, env in started if name.endswith("before")]
    assert before[0][1] == {"GOMP_SPINCOUNT": "300000"}  # libgomp's default spinning: main.py leaves it alone
    assert "| mixtures-best | busy | 100.0 | 110.0 | 50.0 | 90.0 | 1.10 | 1.11 |" in user_path.thread_table(rows)
    for recipe in user_path.THREAD_RECIPES:
        configs = [recipe.args[i + 1] for i, a in enumerate(recipe.args) if a == "--config"]
        assert configs and all((user_path.ROOT / c).is_file() for c in configs)
