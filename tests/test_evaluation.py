"""The evaluation callback and its feature networks on cases with known answers (callbacks/evaluation.py,
gan_module/metrics/features.py)."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

from callbacks.evaluation import Evaluation
from datamodules.folder_split import SPLIT_FILE
from gan_module import ConfigError
from gan_module.metrics.features import dataset_classifier, dataset_key
from gan_module.metrics.registry import EvaluationMetric
from tests.conftest import offline_digits


@pytest.fixture(scope="module")
def digits():
    data = offline_digits()
    data.setup()
    return data


@pytest.fixture(scope="module")
def classifier_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("classifiers")


def evaluate(data, images, cache, **kwargs) -> dict[str, float]:
    """The callback's scores of ``images`` standing in for a generator's samples: the samples are known exactly.
    Real statistics are computed afresh unless ``statistics_cache`` is given."""
    kwargs.setdefault("statistics_cache", None)
    callback = Evaluation(num_samples=len(images), batch_size=250, classifier_cache=str(cache), **kwargs)
    return callback.score(data, images, torch.device("cpu"))


def test_the_test_split_itself_scores_fid_about_zero_and_full_coverage(digits, classifier_cache):
    test = digits.split_images("test")
    results = evaluate(digits, test, classifier_cache, metrics=["fid", "classes"])
    assert abs(results["eval/fid_classifier_500_test"]) < 1e-3
    assert results["eval/classes_500_covered"] == 10
    assert results["eval/classes_500_kl"] < 0.05
    assert results["eval/classifier_test_accuracy"] > 0.9


def test_one_repeated_digit_scores_far_worse_than_other_real_digits(digits, classifier_cache):
    test = digits.split_images("test")
    other_real = evaluate(digits, digits.split_images("val"), classifier_cache, metrics=["fid", "kid", "is"])
    collapsed = evaluate(
        digits, test[:1].repeat(500, 1, 1, 1), classifier_cache, metrics=["fid", "kid", "is", "classes"]
    )
    fid, kid = "eval/fid_classifier_500_test", "eval/kid_classifier_500_test"
    assert collapsed[fid] > 10 * other_real[fid]
    # KID is unbiased: two samples of one distribution give about 0, either sign
    assert abs(other_real[kid]) < 0.05 * collapsed[kid]
    assert collapsed["eval/classes_500_covered"] == 1
    assert sum(collapsed[f"eval/classes_500_share/{c}"] for c in range(10)) == pytest.approx(1.0)
    assert max(collapsed[f"eval/classes_500_share/{c}"] for c in range(10)) == 1.0
    assert collapsed["eval/classes_500_kl"] > 2
    # IS = exp(E KL(p(y|x) || p(y))): about the number of classes for varied, confidently classified digits
    assert other_real["eval/is_classifier_500"] > 7 and abs(collapsed["eval/is_classifier_500"] - 1) < 0.01


def test_parzen_follows_the_paper_protocol_and_prefers_real_digits_to_noise(digits, classifier_cache):
    train = digits.split_images("train")[:1000]
    real = evaluate(digits, train, classifier_cache, metrics=["parzen"])
    noise = evaluate(digits, torch.rand(1000, 1, 28, 28), classifier_cache, metrics=["parzen"])
    key = "eval/parzen_1k_test"
    assert real[key] > noise[key] + 100
    assert real[key + "_sigma"] in [float(s) for s in torch.logspace(-1, 0, 10, dtype=torch.float64)]
    assert 0 < real[key + "_stderr"] < 20


def test_the_classifier_is_trained_once_and_then_read_from_the_cache(digits, tmp_path):
    first, accuracy = dataset_classifier(digits, tmp_path, epochs=1)
    assert accuracy > 0.8
    cached = sorted(tmp_path.glob("*.pt"))
    assert [p.stem for p in cached] == [dataset_key(digits)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [cached[0].name]  # written whole: no temporary left
    again, same_accuracy = dataset_classifier(digits, tmp_path, epochs=1)
    assert same_accuracy == accuracy
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_each_value_range_gets_its_own_classifier(digits, tmp_path):
    # one cache entry for both ranges once made a [0, 1] classifier judge a tanh model's [-1, 1] samples
    minus_one_one = offline_digits(value_range=(-1, 1))
    assert dataset_key(minus_one_one) != dataset_key(digits)
    unit, _ = dataset_classifier(digits, tmp_path, epochs=1)
    signed, accuracy = dataset_classifier(minus_one_one, tmp_path, epochs=1)
    assert len(list(tmp_path.glob("*.pt"))) == 2 and accuracy > 0.8
    x, y = minus_one_one.split_images("test"), minus_one_one.split_labels("test")
    assert signed.accuracy(x, y) == pytest.approx(accuracy) and unit.accuracy(x, y) < accuracy - 0.2


def test_metrics_that_do_not_apply_are_skipped(digits):
    callback = Evaluation(metrics=["fid", "modes", "parzen"])
    assert callback.active_metrics(digits) == ["fid", "parzen"]


def test_mode_coverage_of_mixture_samples(classifier_cache):
    from datamodules import RingMixtureDataModule

    ring = RingMixtureDataModule(num_train=2000, val_size=100, test_size=100)
    ring.setup()
    on_two_modes = ring.centers[:2].repeat(1250, 1)
    results = evaluate(ring, on_two_modes, classifier_cache)  # the default list: only "modes" applies
    assert results == {
        "eval/modes_2500_captured_any": 2.0,
        "eval/modes_2500_captured_20of2500": 2.0,
        "eval/modes_2500_high_quality": 1.0,
        "eval/modes_2500_reverse_kl": pytest.approx(math.log(4)),  # two of eight modes, half each: log(8 / 2)
    }


def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown"):
        Evaluation(metrics=["fid", "precision"])
    with pytest.raises(ConfigError, match="feature"):
        Evaluation(feature="vgg")
    with pytest.raises(ConfigError, match="no such file"):
        Evaluation(feature="inception", inception_weights=str(tmp_path / "missing.pth"))


def test_the_test_subcommand_prints_and_logs_the_metrics_of_a_checkpoint(tmp_path, classifier_cache, capsys):
    from tests.conftest import run_cli
    from tests.test_cli import QUICKSTART, SMALL

    common = ["--config", QUICKSTART, *SMALL, f"--trainer.default_root_dir={tmp_path}"]
    run_cli("fit", *common, "--trainer.max_epochs=1")
    capsys.readouterr()
    run_cli(
        "test",
        *common,
        f"--ckpt_path={tmp_path}/version_0/checkpoints/last.ckpt",
        "--evaluation.num_samples=500",
        "--evaluation.metrics=[fid,parzen,classes]",
        f"--evaluation.classifier_cache={classifier_cache}",
        f"--evaluation.statistics_cache={classifier_cache}",
    )
    printed = capsys.readouterr().out
    for name in ("eval/fid_classifier_500_test", "eval/parzen_500_test", "eval/classes_500_kl", "test/loss_d"):
        assert name in printed
    logged = (tmp_path / "version_0" / "test" / "metrics.csv").read_text().splitlines()
    header, values = logged[0].split(","), logged[-1].split(",")
    fid = float(values[header.index("eval/fid_classifier_500_test")])
    assert fid > 1  # three training steps in: far from the data
    assert len(list(classifier_cache.glob("fid-*.pt"))) == 1  # the option reaches the cache from the CLI


def tiny_gan(image_shape=(2,)):
    from gan_module import GAN
    from gan_module.networks import MLPDiscriminator, MLPGenerator

    return GAN(
        generator=MLPGenerator(
            image_shape=image_shape, latent_dim=3, hidden_dims=[8], output="linear", init_range=None
        ),
        discriminator=MLPDiscriminator(image_shape=image_shape, hidden_dims=[8]),
        generator_optimizer=torch.optim.SGD,
        discriminator_optimizer=torch.optim.SGD,
    )


def test_ranks_generate_interleaved_batches_of_one_noise_stream():
    gan = tiny_gan()
    callback = Evaluation(num_samples=1000, batch_size=300)  # 4 batches, the last one short
    whole = callback.generate(gan)
    shares = [callback.generate(gan, rank, 2) for rank in (0, 1)]
    assert [len(s) for s in shares] == [600, 400] and len(whole) == 1000
    rank1 = callback.batches(gan, 1, 2)
    gathers: list[int] = []

    class TwoRanks:  # rank 0 of two; all_gather returns both ranks' padded batch of the round, as torch does
        global_rank, world_size = 0, 2

        class datamodule:  # noqa: N801 - mimics trainer.datamodule
            image_shape = (2,)

        class strategy:  # noqa: N801 - mimics trainer.strategy
            root_device = torch.device("cpu")

            @staticmethod
            def all_gather(tensor):
                gathers.append(len(tensor))
                other = next(rank1, torch.empty(0, 2))
                return torch.stack([tensor, torch.cat([other, torch.zeros(len(tensor) - len(other), 2)])])

    streamed = list(callback.stream(TwoRanks(), gan))
    assert [len(b) for b in streamed] == [300, 300, 300, 100]
    assert torch.equal(torch.cat(streamed), whole)  # every sample once, in the noise stream's order
    assert gathers == [300, 300]  # two rounds of one batch per rank: never more than a round is held


def test_metrics_fed_batch_by_batch_never_see_the_whole_set_and_score_as_if_they_did(
    digits, classifier_cache, monkeypatch
):
    from gan_module.metrics.distribution import FID

    gan = tiny_gan((1, 28, 28))
    callback = Evaluation(
        metrics=["fid", "kid", "classes"], num_samples=600, batch_size=250, classifier_cache=str(classifier_cache)
    )
    seen: list[int] = []
    update = FID.update
    monkeypatch.setattr(
        FID, "update", lambda self, batch, context: (seen.append(len(batch)), update(self, batch, context))
    )
    samples = callback.generate(gan)
    callback.score(digits, samples, torch.device("cpu"))  # set up first: the classifier, the real statistics
    seen.clear()
    torch.manual_seed(0)  # KID draws its subsets from the global random stream
    streamed = callback.score_batches(digits, callback.batches(gan), torch.device("cpu"))
    assert seen == [250, 250, 100]  # the generated batches, as they came
    torch.manual_seed(0)
    whole = callback.score(digits, samples, torch.device("cpu"))
    assert streamed == pytest.approx(whole)


def test_counts_a_metric_cannot_hold_are_refused_in_one_line_naming_each_limit():
    from gan_module.metrics.parzen import PARZEN_LIMIT

    Evaluation(metrics=["fid"], num_samples=10**12)  # fed batch by batch: any number
    Evaluation(metrics=["parzen"], num_samples=PARZEN_LIMIT)
    with pytest.raises(ConfigError) as refused:
        Evaluation(num_samples=10**9)  # the default metrics
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("evaluation.num_samples=1000000000 is more than these metrics hold in memory: ")
    assert "parzen at most 50,000 (every sample is a kernel centre, all held at once)" in message
    assert "kid at most 100,000" in message and "classes and modes at most 100,000" in message
    assert "fid at most" not in message
    with pytest.raises(ConfigError, match=r"tests\.test_evaluation\.MeanPixel at most 100,000"):
        Evaluation(metrics=["tests.test_evaluation.MeanPixel"], num_samples=100_001)


def test_every_name_the_evaluation_logs_is_the_one_gan_module_names_declares(digits, classifier_cache):
    """The study checks its rank_by against logged_names(), so what score() logs must be exactly that list."""
    from datamodules import RingMixtureDataModule
    from gan_module.metrics.registry import logged_names

    images = ["fid", "kid", "is", "parzen", "classes"]
    logged = set(evaluate(digits, digits.split_images("val"), classifier_cache, metrics=images))
    shares = {f"eval/classes_500_share/{c}" for c in range(10)}
    assert logged == set(logged_names(images, feature="classifier", num_samples=500, real_split="test")) | shares
    ring = RingMixtureDataModule(num_train=2000, val_size=100, test_size=100)
    ring.setup()
    logged = set(evaluate(ring, ring.centers.repeat(100, 1), classifier_cache, metrics=["modes"]))
    assert logged == set(logged_names(["modes"], feature="classifier", num_samples=800, real_split="test"))


class MeanPixel(EvaluationMetric):
    """A toy metric added the way a user adds one: a class, then its import path in ``evaluation.metrics``."""

    key = "mean_pixel"
    outputs = ("", "_std")

    def score(self, samples, context):
        name = self.base_name(context)
        return {name: samples.mean().item(), name + "_std": samples.std().item()}


def test_a_metric_is_one_class_named_in_yaml_by_its_import_path(digits, classifier_cache):
    val = digits.split_images("val")
    results = evaluate(digits, val, classifier_cache, metrics=["parzen", "tests.test_evaluation.MeanPixel"])
    assert results["eval/mean_pixel_500"] == pytest.approx(val.mean().item())
    assert results["eval/mean_pixel_500_std"] == pytest.approx(val.std().item())
    assert "eval/parzen_500_test" in results
    from gan_module.metrics.registry import logged_names

    assert logged_names(
        ["tests.test_evaluation.MeanPixel"], feature="classifier", num_samples=500, real_split="test"
    ) == [
        "eval/mean_pixel_500",
        "eval/mean_pixel_500_std",
    ]
    with pytest.raises(ConfigError, match=r"unknown 'tests\.test_evaluation\.Nope'"):
        Evaluation(metrics=["tests.test_evaluation.Nope"])


def test_real_statistics_are_computed_once_then_read_from_the_cache(digits, classifier_cache, tmp_path, monkeypatch):
    from gan_module.metrics.distribution import _FeatureMetric

    samples, metrics = digits.split_images("val"), ["fid", "kid"]
    first = evaluate(digits, samples, classifier_cache, metrics=metrics, statistics_cache=str(tmp_path))
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["fid", "kid"]  # whole files, no temporary

    def no_real_images(self, context):
        raise AssertionError("the real split was featurised again")

    monkeypatch.setattr(_FeatureMetric, "_feed_real", no_real_images)
    again = evaluate(digits, samples, classifier_cache, metrics=metrics, statistics_cache=str(tmp_path))
    fid = "eval/fid_classifier_500_test"
    assert again[fid] == pytest.approx(first[fid], rel=1e-9) and first[fid] > 0.1
    kid = "eval/kid_classifier_500_test"  # its subsets are drawn at random: equal up to that draw
    assert again[kid] == pytest.approx(first[kid], rel=1e-3)
    with pytest.raises(AssertionError, match="featurised again"):  # statistics_cache null: computed every run
        evaluate(digits, samples, classifier_cache, metrics=metrics)


def test_real_statistics_are_keyed_by_feature_network_and_split(digits, tmp_path):
    from gan_module.metrics.classifier import DatasetClassifier
    from gan_module.metrics.real_statistics import statistics_file

    torch.manual_seed(0)
    one, other = (DatasetClassifier(digits.image_shape, 10) for _ in range(2))  # e.g. a retrained classifier
    test_file = statistics_file(tmp_path, "fid", one, digits, "test")
    assert test_file == statistics_file(tmp_path, "fid", one, digits, "test")
    assert test_file != statistics_file(tmp_path, "fid", other, digits, "test")
    assert test_file != statistics_file(tmp_path, "fid", one, digits, "val")
    assert test_file != statistics_file(tmp_path, "kid", one, digits, "test")


def test_a_fit_from_scratch_evaluates_the_untrained_generator_at_iteration_0_once(tmp_path):
    """Learning curves start at the untrained level (the study reads "has it started?" against it, and scales its
    pick from it): a row of its own at iteration 0, before any training row; a resumed fit does not add another,
    and ``at_start: false`` leaves it out."""
    import csv

    from gan_module.names import ITERATIONS
    from tests.conftest import run_cli

    metric = "eval/modes_500_high_quality"
    common = [
        "--config", "configs/mixtures/base.yaml", "--trainer.limit_train_batches=3", "--trainer.log_every_n_steps=1",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--evaluation.metrics=[modes]",
        "--evaluation.num_samples=500", "--evaluation.every_n_epochs=1", "--sample_grid.every_n_epochs=0",
        "--interpolation.every_n_epochs=0", "--data.init_args.num_train=2000", f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip

    def evaluations() -> list[dict[str, str]]:
        with open(tmp_path / "version_0" / "metrics.csv", newline="") as file:
            return [row for row in csv.DictReader(file) if row.get(metric)]

    run_cli("fit", *common, "--trainer.max_epochs=2")
    first, *rest = evaluations()
    assert float(first[ITERATIONS]) == 0.0 and 0.0 <= float(first[metric]) <= 1.0 and len(rest) == 2
    with open(tmp_path / "version_0" / "metrics.csv", newline="") as file:
        assert next(csv.DictReader(file)).get(metric) == first[metric]  # logged before any training step
    run_cli("fit", *common, "--trainer.max_epochs=3", "--ckpt_path=last")
    assert [float(row[ITERATIONS]) for row in evaluations() if row.get(ITERATIONS)].count(0.0) == 1
    assert len(evaluations()) == 4
    assert Evaluation(every_n_epochs=1, at_start=False).at_start is False


# ------------------------------------------------------------------------------------- a user's folder of images
def test_a_folders_classifier_learns_a_bounded_sample_and_judges_its_class_coverage(
    digit_png_folder, tmp_path, monkeypatch, caplog
):
    from datamodules import ImageFolderDataModule
    from tests.conftest import count_decodes

    folder = ImageFolderDataModule(root=str(digit_png_folder), resolution=28, labels="folders", num_workers=0)
    decoded = count_decodes(monkeypatch)
    with caplog.at_level("INFO"):
        _, accuracy = dataset_classifier(folder, tmp_path, epochs=2, pool=1500)
    assert decoded == {4250: 1500, 500: 500}  # 1,500 training images, then the test split for its accuracy
    assert "the dataset classifier learns 1,500 of the 4,250 training images" in caplog.text
    assert [p.name for p in tmp_path.glob("*.pt")] == [f"{dataset_key(folder)}-sample1500.pt"]
    assert dataset_key(folder).startswith("ImageFolder-train-4250-") and accuracy > 0.85
    # class coverage in the folder's classes: its own test images cover all ten in the training balance
    test = folder.split_images("test")
    assert torch.equal(folder.class_counts("train"), torch.bincount(folder.split_labels("train"), minlength=10))
    decoded.clear()
    cover = evaluate(folder, test, tmp_path, metrics=["classes"], classifier_pool=1500, classifier_epochs=2)
    assert decoded == {}  # the cached classifier; the class balance comes from the labels, no image decoded
    assert cover["eval/classes_500_covered"] == 10 and cover["eval/classes_500_kl"] < 0.05
    assert cover["eval/classifier_test_accuracy"] == accuracy
    sevens = test[folder.split_labels("test") == 7]
    one_class = evaluate(folder, sevens, tmp_path, metrics=["classes"], classifier_pool=1500, classifier_epochs=2)
    assert one_class[f"eval/classes_{len(sevens)}_share/7"] > 0.9 and one_class[f"eval/classes_{len(sevens)}_kl"] > 1


def test_fit_then_test_scores_the_held_out_images_and_a_copied_folder_reuses_their_statistics(
    tmp_path, digit_png_folder, monkeypatch
):
    """The user's path: configs/image_folder/base.yaml (its metrics: fid, kid, classes) on the PNG digits with
    their class folders; classifier features here (Inception's smoke test is in test_inception.py)."""
    import shutil

    from datamodules import ImageFolderDataModule
    from gan_module.metrics import features
    from gan_module.metrics.distribution import _FeatureMetric
    from gan_module.metrics.features import ClassifierFeatures
    from tests.conftest import FAST, run_cli
    from tests.test_datamodule_image_folder import IMAGE_FOLDER_BASE, data_config

    options = {"resolution": 32, "labels": "folders", "test_size": 40}
    networks = ["--model.generator.init_args.base_channels=4", "--model.discriminator.init_args.base_channels=4"]
    common = ["--config", IMAGE_FOLDER_BASE, *networks, f"--trainer.default_root_dir={tmp_path / 'runs'}"]
    scoring = [
        "--ckpt_path=last",
        "--evaluation.feature=classifier",
        "--evaluation.num_samples=40",
        "--evaluation.classifier_pool=1000",
        "--evaluation.classifier_epochs=2",
        f"--evaluation.classifier_cache={tmp_path / 'classifiers'}",
        f"--evaluation.statistics_cache={tmp_path / 'statistics'}",
    ]
    run_cli("fit", *common, "--config", data_config(tmp_path, digit_png_folder, **options), *FAST)
    run_cli("test", *common, "--config", data_config(tmp_path, digit_png_folder, **options), *scoring)

    def logged() -> dict[str, float]:
        rows = (tmp_path / "runs" / "version_0" / "test" / "metrics.csv").read_text().splitlines()
        return {k: float(v) for k, v in zip(rows[0].split(","), rows[-1].split(","), strict=True) if v}

    first = logged()
    fid = first["eval/fid_classifier_40_test"]
    assert fid > 1 and first["eval/kid_classifier_40_test"] > 0 and 1 <= first["eval/classes_40_covered"] <= 10
    # the cached real statistics: named by the held-out images' content digest, holding exactly those 40 images
    folder = ImageFolderDataModule(root=str(digit_png_folder), num_workers=0, value_range=(-1, 1), **options)
    digest = folder.content_digest("test")[:12]
    cached = sorted(p.name for p in (tmp_path / "statistics").iterdir())
    assert [name.split("-")[0] for name in cached] == ["fid", "kid"]
    assert all(name.endswith(f"-ImageFolder-test-40-{digest}.pt") for name in cached)
    real = torch.load(tmp_path / "statistics" / cached[0], weights_only=True)
    classifier, _ = dataset_classifier(folder, tmp_path / "classifiers", pool=1000)
    with torch.no_grad():
        expected = ClassifierFeatures(classifier)(folder.split_images("test")).double().sum(0)
    assert int(real["real_features_num_samples"]) == 40
    assert torch.allclose(real["real_features_sum"], expected, rtol=1e-4, atol=1e-3)

    # the same images under another path, with new modification times: nothing is computed again
    moved = tmp_path / "elsewhere" / "my digits"
    shutil.copytree(digit_png_folder, moved)
    for file in moved.rglob("*.png"):
        os.utime(file, (1e9, 1e9))

    def refuse(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(_FeatureMetric, "_feed_real", refuse)
    monkeypatch.setattr(features, "train_classifier", refuse)
    (tmp_path / "moved").mkdir()
    run_cli("test", *common, "--config", data_config(tmp_path / "moved", moved, **options), *scoring)
    again = logged()
    assert json.loads((tmp_path / "runs" / "version_0" / "test" / SPLIT_FILE).read_text())["root"] == str(moved)
    assert sorted(p.name for p in (tmp_path / "statistics").iterdir()) == cached
    assert again["eval/fid_classifier_40_test"] == pytest.approx(fid, rel=1e-6)
