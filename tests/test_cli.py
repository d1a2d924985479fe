"""main.py end to end: every config fits, bad input stops with one clear message, resume is exact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml

from gan_module import GAN
from gan_module.losses import NonSaturatingLoss
from tests.conftest import CONFIGS, FAST, run_cli

QUICKSTART = str(CONFIGS / "quickstart.yaml")
#: the quickstart shrunk to seconds: small networks, few batches
SMALL = [
    "--model.generator.init_args.hidden_dims=[32]",
    "--model.discriminator.init_args.hidden_dims=[16]",
    "--trainer.limit_train_batches=3",
    "--trainer.enable_model_summary=false",
    "--trainer.enable_progress_bar=false",
    "--data.init_args.batch_size=16",
    "--trainer.log_every_n_steps=1",
]
#: which dataset bases each shared network file is tried with: every compatible dataset
NETWORK_DATASETS = {
    "dcgan": ["mnist", "fashion_mnist", "cifar10", "tfd"],
    "resnet": ["mnist", "fashion_mnist", "cifar10", "tfd"],
    "maxout2014": ["mnist", "fashion_mnist", "cifar10", "tfd"],
    "conditional": ["mnist", "fashion_mnist", "cifar10", "mixtures"],  # TFD's unlabelled faces have no classes
}

# Fragments written for one recipe, composed over it rather than over their folder's base.yaml.
COMPOSED_OVER = {"mnist/full_data.yaml": "mnist/offline_best.yaml"}


def config_sets() -> list[tuple[str, ...]]:
    """Every shipped config as users compose it: a dataset's own files after its base.yaml, each loss on the
    MNIST base, each shared network file on every dataset it fits."""
    sets: list[tuple[str, ...]] = []
    for path in sorted(CONFIGS.rglob("*.yaml")):
        rel = path.relative_to(CONFIGS)
        folder = rel.parent.name
        skipped = rel.parts[0] in ("logger", "studies", "model") or rel == Path("trainer/ddp.yaml")
        if rel.name == "defaults.yaml" or skipped:
            # loggers: tests/test_logging.py; studies: tests/test_study.py; DDP: tests/test_distributed.py;
            # model/: the parts that configs name by path, tried through those configs
            continue
        if folder in ("losses", "trainer", "sampling", "augment"):
            sets.append(("mnist/base.yaml", str(rel)))
        elif folder == "networks":
            sets += [(f"{dataset}/base.yaml", str(rel)) for dataset in NETWORK_DATASETS[path.stem]]
        elif str(rel) in COMPOSED_OVER:
            sets.append((COMPOSED_OVER[str(rel)], str(rel)))
        elif rel.name == "base.yaml" or not (path.parent / "base.yaml").is_file() or names_its_data(path):
            sets.append((str(rel),))  # a base, the quickstart, or a standalone paper config
        else:
            sets.append((f"{folder}/base.yaml", str(rel)))
    sets.append(("mnist/gan2014.yaml", "mnist/offline_data.yaml"))  # the paper's model on the offline digits
    sets.append(("mnist/gan2014.yaml", "mnist/offline_data.yaml", "mnist/gan2014_release.yaml"))  # its update
    return sets


def model_block(path: Path) -> dict:
    """A config's ``model`` settings; a path there names a file holding them (relative to the config)."""
    model = yaml.safe_load(path.read_text()).get("model") or {}
    return yaml.safe_load((path.parent / model).read_text()) if isinstance(model, str) else model


def names_its_data(path: Path) -> bool:
    """A standalone config: it names both its networks and its DataModule."""
    config = yaml.safe_load(path.read_text())
    return "class_path" in (config.get("data") or {}) and "generator" in model_block(path)


@pytest.fixture(scope="session")
def data_files(mnist_root, fashion_mnist_root, cifar10_root, tfd_path, digit_png_folder) -> dict[str, list[str]]:
    """Flags pointing each DataModule at its tiny real-format files."""
    return {
        "datamodules.MNISTDataModule": [f"--data.init_args.root={mnist_root}", "--data.init_args.val_size=100"],
        "datamodules.StackedMNISTDataModule": [
            f"--data.init_args.root={mnist_root}",
            "--data.init_args.val_size=100",
            "--data.init_args.num_train=300",
            "--data.init_args.num_test=50",
            "--evaluation.num_samples=500",  # the recipe's 26,000 at iteration 0 took 50 s of the test
        ],
        "datamodules.FashionMNISTDataModule": [
            f"--data.init_args.root={fashion_mnist_root}",
            "--data.init_args.system_dir=null",
            "--data.init_args.val_size=100",
            "--data.init_args.train_size=null",  # limited.yaml's 2,000 of the 500 test images: data.train_size tests it
        ],
        "datamodules.CIFAR10DataModule": [f"--data.init_args.root={cifar10_root}", "--data.init_args.val_size=5"],
        "datamodules.TFDDataModule": [f"--data.init_args.path={tfd_path}"],
        # at 32x32: the recipe's 64x64 DCGAN takes 2.5 times as long a step (64x64 networks: tests/test_networks.py)
        "datamodules.ImageFolderDataModule": [
            f"--data.init_args.root={digit_png_folder}",
            "--data.init_args.resolution=32",
        ],
        "datamodules.RingMixtureDataModule": ["--data.init_args.num_train=500"],
        "datamodules.GridMixtureDataModule": ["--data.init_args.num_train=500"],
    }


def config_args(files: tuple[str, ...], data_files: dict[str, list[str]]) -> list[str]:
    """``--config`` flags for the files, then the flags that point their DataModule at tiny files."""
    paths = [CONFIGS / f for f in files]
    data_class = ""
    for path in paths:
        data_class = yaml.safe_load(path.read_text()).get("data", {}).get("class_path", data_class)
    return [arg for p in paths for arg in ("--config", str(p))] + data_files.get(data_class, [])


@pytest.mark.parametrize("files", config_sets(), ids="+".join)
def test_every_config_fits_a_few_batches(files, data_files, tmp_path):
    run_cli("fit", *config_args(files, data_files), *FAST, f"--trainer.default_root_dir={tmp_path}")
    run = tmp_path / "version_0"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert sorted((run / "images" / "samples").glob("iter_*.png"))  # the sample grid (a scatter plot for 2-D)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["gan_progress"]["d_steps"] == 2
    # the run's config.yaml records what the files asked for (a later file overriding an earlier one)
    saved = yaml.safe_load((run / "config.yaml").read_text())["model"]
    expected = {}
    for path in files:
        for key, value in model_block(CONFIGS / path).items():
            if key in ("loss", "k", "discriminator_spectral_norm", "regularizers"):
                expected[key] = class_paths(value)
            if key in ("generator", "discriminator") and "class_path" in value:
                expected[key] = value["class_path"]
    for key, value in expected.items():
        assert class_paths(saved[key]) == value, key
    if "networks/conditional.yaml" in files:  # the number of classes came from the data
        assert GAN.load_from_checkpoint(run / "checkpoints" / "last.ckpt", map_location="cpu").num_classes > 0


def class_paths(value):
    """A config value with every ``{class_path: ..., init_args: ...}`` (or bare class path) reduced to its path."""
    if isinstance(value, dict):
        return value["class_path"]
    if isinstance(value, list):
        return [class_paths(v) for v in value]
    return value


def test_run_folder_defaults_to_the_config_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_cli("fit", "--config", QUICKSTART, *SMALL, "--trainer.max_epochs=1")
    assert (tmp_path / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt").is_file()


def fit(root: Path, *args: str) -> None:
    """The small quickstart at one fixed thread count: `auto` re-picks the count as the load changes, and another
    count can move a reduction's last bit, so runs compared bit for bit fix it, as docs/runs.md tells users."""
    run_cli("fit", "--config", QUICKSTART, *SMALL, "--threads=1", f"--trainer.default_root_dir={root}", *args)


#: packing and a generator average with a ramp-up: more state that a resume must carry exactly
PACKED_WITH_EMA = [
    "--model.pack=2",
    "--model.ema=gan_module.ema.ExponentialMovingAverage",
    "--model.ema.decay=0.9",
    "--model.ema.rampup_kimg=0.1",
]


@pytest.mark.parametrize("extra", [[], PACKED_WITH_EMA], ids=["plain", "packed_with_ema"])
def test_resume_is_exact(tmp_path, extra):
    fit(tmp_path / "straight", "--trainer.max_epochs=4", *extra)
    fit(tmp_path / "resumed", "--trainer.max_epochs=2", *extra)
    fit(tmp_path / "resumed", "--trainer.max_epochs=4", "--ckpt_path=last", *extra)
    assert not (tmp_path / "resumed" / "version_1").exists()  # resumed in its own folder
    a = torch.load(tmp_path / "straight/version_0/checkpoints/last.ckpt", weights_only=True)
    b = torch.load(tmp_path / "resumed/version_0/checkpoints/last.ckpt", weights_only=True)
    assert a["gan_progress"] == b["gan_progress"] == {"d_steps": 12, "iterations": 12, "images_seen": 192}
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert any(name.startswith("ema.average.") for name in a["state_dict"]) == bool(extra)
    if extra:  # rebuilt from the checkpoint's config: packed D, and samples from the restored average
        model = GAN.load_from_checkpoint(tmp_path / "straight/version_0/checkpoints/last.ckpt")
        assert model.pack == 2 and model.sampling_generator is model.ema.average
        assert torch.equal(model.ema.average.net[0].weight, a["state_dict"]["ema.average.net.0.weight"])
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for key, state in opt_a["state"].items():
            for field, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_b["state"][key][field])), field


def test_a_new_fit_gets_a_new_run_folder_and_periodic_checkpoints(tmp_path):
    fit(tmp_path, "--trainer.max_epochs=2", "--checkpoint.every_n_epochs=1")
    fit(tmp_path, "--trainer.max_epochs=1")
    assert (tmp_path / "version_1" / "checkpoints" / "last.ckpt").is_file()
    names = sorted(p.name for p in (tmp_path / "version_0" / "checkpoints").iterdir())
    assert names == ["epoch0000.ckpt", "epoch0001.ckpt", "last.ckpt"]
    assert (tmp_path / "version_0" / "metrics.csv").is_file()


def test_test_subcommand_writes_beside_the_run_not_over_it(tmp_path):
    fit(tmp_path, "--trainer.max_epochs=1")
    ckpt = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    metrics = (tmp_path / "version_0" / "metrics.csv").read_text()
    run_cli(
        "validate",
        "--config",
        QUICKSTART,
        *SMALL,
        f"--trainer.default_root_dir={tmp_path}",
        f"--ckpt_path={ckpt}",
    )
    assert (tmp_path / "version_0" / "metrics.csv").read_text() == metrics
    validated = (tmp_path / "version_0" / "validate" / "metrics.csv").read_text()
    assert "val/loss_d" in validated and "val/d_accuracy" in validated


def test_predict_returns_samples_from_a_checkpoint(tmp_path, capsys):
    fit(tmp_path, "--trainer.max_epochs=1")
    ckpt = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    from gan_module import GAN

    model = GAN.load_from_checkpoint(ckpt)  # rebuilt from the config stored in the checkpoint
    assert model.generator.net[0].out_features == 32
    samples = model.generate(model.sample_noise(6, torch.Generator().manual_seed(0)))
    assert samples.shape == (6, 1, 28, 28)


def expect_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    return err[err.find("error:") :]  # from the message on: Python may print a (once-only) warning before it


def test_unknown_loss_is_a_clear_error(capsys, tmp_path):
    err = expect_error(
        capsys,
        "fit",
        "--config",
        QUICKSTART,
        "--model.loss=gan_module.losses.NoSuchLoss",
        f"--trainer.default_root_dir={tmp_path}",
    )
    assert "model.loss" in err and "NoSuchLoss" in err
    assert not (tmp_path / "version_0").exists()


def test_unknown_network_is_a_clear_error(capsys, tmp_path):
    err = expect_error(
        capsys,
        "fit",
        "--config",
        QUICKSTART,
        "--model.generator=gan_module.networks.NoSuchNet",
        f"--trainer.default_root_dir={tmp_path}",
    )
    assert "model.generator" in err and "NoSuchNet" in err


def test_k_below_one_is_a_clear_error(capsys, tmp_path):
    err = expect_error(capsys, "fit", "--config", QUICKSTART, "--model.k=0", f"--trainer.default_root_dir={tmp_path}")
    assert "model.k" in err


def test_missing_checkpoint_is_a_clear_error(capsys, tmp_path):
    err = expect_error(capsys, "fit", "--config", QUICKSTART, f"--ckpt_path={tmp_path}/nope.ckpt")
    assert "nope.ckpt: no such file" in err


def test_resume_last_without_a_run_is_a_clear_error(capsys, tmp_path):
    err = expect_error(
        capsys, "fit", "--config", QUICKSTART, "--ckpt_path=last", f"--trainer.default_root_dir={tmp_path}"
    )
    assert "no" in err and "last.ckpt to resume" in err


def test_corrupt_checkpoint_is_a_clear_error(capsys, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x80\x04this is not a checkpoint")
    err = expect_error(capsys, "fit", "--config", QUICKSTART, f"--ckpt_path={bad}")
    assert "bad.ckpt is not a readable checkpoint" in err


def test_missing_dataset_is_a_clear_error_before_training(capsys, tmp_path):
    err = expect_error(
        capsys,
        "fit",
        "--config",
        str(CONFIGS / "mnist" / "gan2014.yaml"),
        f"--data.init_args.root={tmp_path}/empty",
        f"--trainer.default_root_dir={tmp_path}/runs",
    )
    assert err.startswith("error: MNISTDataModule:") and "train-images-idx3-ubyte" in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs" / "version_0" / "checkpoints").exists()


def test_generator_range_mismatch_is_a_clear_error(capsys, tmp_path):
    err = expect_error(
        capsys,
        "fit",
        "--config",
        QUICKSTART,
        "--data.init_args.value_range=[-1,1]",
        f"--trainer.default_root_dir={tmp_path}",
    )
    assert "output range (0.0, 1.0)" in err and "data.value_range" in err


def test_print_config_shows_the_run_folder_it_would_use_without_making_it(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("fit", "--config", QUICKSTART, "--print_config", f"--trainer.default_root_dir={tmp_path}")
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["default_root_dir"] == str(tmp_path / "version_0")
    assert printed["checkpoint"]["dirpath"] == str(tmp_path / "version_0" / "checkpoints")
    assert list(tmp_path.iterdir()) == []
    assert printed["model"]["generator"]["class_path"] == "gan_module.networks.MLPGenerator"
    assert printed["last_checkpoint"] == {"every_n_epochs": 1, "every_minutes": 5.0}  # owns last.ckpt
    assert printed["trainer"]["plugins"] == [{"class_path": "gan_module.checkpoint_io.AtomicCheckpointIO"}]


class ExplodingLoss(NonSaturatingLoss):
    """The non-saturating loss until its ``after``-th D step, then NaN: a run that diverges mid-training."""

    def __init__(self, after: int = 4) -> None:
        self.after, self.calls = after, 0

    def discriminator_loss(self, critique):
        self.calls += 1
        loss = super().discriminator_loss(critique)
        return loss * float("nan") if self.calls >= self.after else loss


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        fit(
            tmp_path,
            "--model.loss=tests.test_cli.ExplodingLoss",
            "--model.loss.after=4",  # the first D step of epoch 2 (3 batches per epoch)
            "--trainer.max_epochs=3",
            "--trainer.limit_val_batches=0",
            "--checkpoint.every_n_epochs=1",
        )
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert "error: The discriminator's loss (nan)" in err and "checkpoints saved so far are intact" in err
    assert "Traceback" not in err
    ckpt = torch.load(tmp_path / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["gan_progress"]["d_steps"] == 3  # epoch 1's, saved before the divergence
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_help_and_config_printing_skip_the_load_check():
    """main.py measures the machine's load (0.1 s) only for commands that train or evaluate."""
    from main import only_prints

    assert only_prints(["fit", "--help"]) and only_prints(["-h"]) and only_prints(["fit", "--print_config=skip_null"])
    assert not only_prints(["fit", "--config", QUICKSTART]) and not only_prints(["test", "--config=help.yaml"])


def test_a_missing_or_broken_config_file_is_reported_before_anything_heavy_is_imported(tmp_path):
    import subprocess
    import sys

    from main import check_config_files

    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  k: [1\n")
    assert check_config_files(["fit", "--config", QUICKSTART]) is None
    assert check_config_files(["fit", "--config", "configs/nope.yaml"]) == "--config configs/nope.yaml: no such file."
    assert check_config_files(["fit", f"--config={broken}"]).startswith(f"--config {broken} is not valid YAML (line 3)")
    assert check_config_files(["fit", "--config", "{model: {k: 2}}"]) is None  # inline YAML is jsonargparse's
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("model:\n  k: 1  # café\n".encode("latin-1"))
    assert check_config_files(["fit", "--config", str(latin)]) == (
        f"--config {latin} is not UTF-8 text (byte 0xe9 at position 20): save it as UTF-8."
    )
    # the real command: one line, exit 2, and torch never imported (that is what makes it fast)
    probe = "import runpy, sys; sys.argv = ['main.py', 'fit', '--config', 'configs/nope.yaml']\n"
    probe += "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit as e:\n"
    probe += "    print('torch' in sys.modules, e.code)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=CONFIGS.parent)
    assert done.stdout.split() == ["False", "2"]
    assert done.stderr.strip() == "error: --config configs/nope.yaml: no such file."


def test_a_key_written_twice_in_a_config_is_one_line_before_torch_is_imported(tmp_path):
    """The last of two ``trainer:`` blocks would silently win (PyYAML keeps it); main.py refuses the file."""
    import subprocess
    import sys

    twice = tmp_path / "twice.yaml"
    twice.write_text("trainer:\n  max_epochs: 2\nmodel:\n  k: 2\n\ntrainer:\n  max_steps: 30\n")
    probe = (
        f"import runpy, sys; sys.argv = ['main.py', 'fit', '--config', {QUICKSTART!r}, '--config', {str(twice)!r}]\n"
    )
    probe += "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit as e:\n"
    probe += "    print('torch' in sys.modules, e.code)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=CONFIGS.parent)
    assert done.stdout.split() == ["False", "2"]
    assert done.stderr.splitlines() == [
        f"error: --config {twice}: key `trainer` appears twice (lines 1 and 6): keep one."
    ]


def composed_over_a_copy_of_the_model_fragments(tmp_path: Path, fragment: str, appended: str) -> Path:
    """A config naming its model by path (as configs/<dataset>/base.yaml do), over copies of configs/model/ in which
    ``fragment`` has ``appended`` added at its end."""
    import shutil

    shutil.copytree(CONFIGS / "model", tmp_path / "model")
    with open(tmp_path / "model" / fragment, "a") as file:
        file.write(appended)
    (tmp_path / "config.yaml").write_text("model: model/fc_gan.yaml\n")
    return tmp_path / "config.yaml"


@pytest.mark.parametrize(
    ("fragment", "appended", "message"),
    [
        ("fc_gan.yaml", "k: 2\n", "key `k` appears twice (lines 7 and 10): keep one."),  # named by the config
        (  # named by that fragment in turn
            "fc_generator.yaml",
            "class_path: gan_module.networks.MLPGenerator\n",
            "key `class_path` appears twice (lines 4 and 6): keep one.",
        ),
        (
            "fc_discriminator.yaml",
            "init_args:\n\tdropout: 0.5\n",
            "is not valid YAML (line 5): found character '\\t' that cannot start any token (a tab: indent with spaces)",
        ),
    ],
)
def test_a_file_a_config_names_by_path_is_read_strictly_too(tmp_path, capsys, fragment, appended, message):
    """jsonargparse loads those files itself (main.py sees only the --config files): its loader refuses them."""
    config = composed_over_a_copy_of_the_model_fragments(tmp_path, fragment, appended)
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as stopped:
        run_cli(
            "fit",
            "--config",
            QUICKSTART,
            "--config",
            str(config),
            *SMALL,
            "--trainer.max_steps=2",
            f"--trainer.default_root_dir={runs}",
        )
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    separator = ": " if message.startswith("key") else " "
    assert errors == [f"error: {tmp_path / 'model' / fragment}{separator}{message}"]
    assert not runs.exists()


def test_the_composed_model_fragments_load_as_shipped(tmp_path):
    """The strict loader reads the shipped fragments as jsonargparse's own did (the same model is built)."""
    config = composed_over_a_copy_of_the_model_fragments(tmp_path, "fc_gan.yaml", "")
    run_cli(
        "fit",
        "--config",
        QUICKSTART,
        "--config",
        str(config),
        *SMALL,
        "--trainer.max_steps=2",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
    )
    saved = yaml.safe_load((tmp_path / "runs" / "version_0" / "config.yaml").read_text())["model"]
    assert saved["generator"]["init_args"]["hidden_dims"] == [32]  # the command line over the fragment
    assert saved["generator_optimizer"]["init_args"]["lr"] == 2e-4  # read from adam_dcgan.yaml as a number
    assert saved["discriminator"]["class_path"] == "gan_module.networks.MLPDiscriminator"


def test_without_cuda_devices_torch_stops_probing_for_nvml(monkeypatch):
    from gan_module.run.machine import stop_probing_for_absent_gpus

    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    stop_probing_for_absent_gpus()
    assert os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == "1"  # a GPU machine keeps Lightning's setting
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    stop_probing_for_absent_gpus()
    assert "PYTORCH_NVML_BASED_CUDA_CHECK" not in os.environ


def built(tmp_path: Path, *configs: str, args: tuple[str, ...] = ()):
    """The model, data and trainer that ``main.py fit --config ... ARGS`` would build from these shipped files."""
    from gan_module.cli import GANCLI

    files = [a for name in configs for a in ("--config", str(CONFIGS / name))]
    return GANCLI(args=[*files, *args, "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}"], run=False)


def parameters(network: torch.nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


def test_the_pacgan_recipe_builds_the_released_2d_setup(tmp_path):
    """configs/mixtures/pacgan.yaml on the grid: the released networks' sizes, batch 100, Adam 1e-4 (0.8, 0.999)."""
    cli = built(tmp_path, "mixtures/base.yaml", "mixtures/grid.yaml", "mixtures/pacgan.yaml")
    # D: maxout 2 -> 200x5 -> 200x5 -> 200x5, linear 1 (as pacgan_task.py builds it)
    assert parameters(cli.model.discriminator) == (2 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + 201
    # G: 2 -> 4 x 400 with batch norm -> 2 (plus the hidden biases the release leaves out)
    assert parameters(cli.model.generator) == (2 * 400 + 400) + 3 * (400 * 400 + 400) + (400 * 2 + 2) + 4 * 2 * 400
    assert cli.model.latent_dim == 2 and cli.datamodule.batch_size == 100 and cli.datamodule.std == 0.05
    opt_d, opt_g = cli.model.configure_optimizers()[0]
    for opt in (opt_d, opt_g):
        assert opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.8, 0.999)
    assert cli.trainer.max_epochs == 400


def test_the_veegan_recipe_builds_the_released_2d_setup(tmp_path):
    """configs/mixtures/veegan.yaml: the Unrolled-GAN notebook's tanh MLPs, z 256, batch 512, Adam G 1e-3 / D 1e-4."""
    from callbacks.budget import IterationBudget
    from gan_module.losses import MinimaxLoss

    cli = built(tmp_path, "mixtures/base.yaml", "mixtures/veegan.yaml")
    assert parameters(cli.model.generator) == (256 * 128 + 128) + (128 * 128 + 128) + (128 * 2 + 2)
    assert parameters(cli.model.discriminator) == (2 * 128 + 128) + (128 * 128 + 128) + 129
    assert sum(isinstance(m, torch.nn.Tanh) for m in cli.model.discriminator.modules()) == 2
    assert type(cli.model.loss) is MinimaxLoss and cli.datamodule.batch_size == 512
    opt_d, opt_g = cli.model.configure_optimizers()[0]
    assert (opt_d.defaults["lr"], opt_g.defaults["lr"]) == (1e-4, 1e-3) and opt_g.defaults["betas"] == (0.5, 0.999)
    budget = next(c for c in cli.trainer.callbacks if isinstance(c, IterationBudget))
    assert budget.max_iterations == 25000


@pytest.mark.parametrize("data", [[], ["mixtures/grid.yaml"]], ids=["ring", "grid"])
def test_the_best_mixtures_recipe_decays_its_learning_rates_to_zero_at_its_last_iteration(tmp_path, data):
    """configs/mixtures/best.yaml: PacGAN2 + a generator average; LinearLR's length is the run's length."""
    cli = built(tmp_path, "mixtures/base.yaml", *data, "mixtures/best.yaml")
    cli.datamodule.setup("fit")
    iterations = cli.trainer.max_epochs * len(cli.datamodule.train_dataloader())
    assert cli.model.pack == 2 and cli.model.ema.decay == 0.999 and iterations == 78000
    _, schedulers = cli.model.configure_optimizers()
    assert [(s.total_iters, s.end_factor) for s in schedulers] == [(iterations, 0.0)] * 2
