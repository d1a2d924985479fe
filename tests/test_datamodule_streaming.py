"""datamodules/prepare.py and streaming.py: a folder prepared as LitData chunks streams the folder module's images,
and a run killed mid-epoch continues with the next batch."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from datamodules import ImageFolderDataModule, StreamingImageDataModule
from datamodules.folder_split import SKIPPED_FILE, SPLIT_FILE
from datamodules.prepare import DATASET_FILE, main, prepare
from gan_module.errors import ConfigError
from tests.conftest import run_cli, write_digit_pngs
from tests.test_cli import QUICKSTART
from tests.test_datamodule_image_folder import record_flag
from tests.test_preemption import RUN, assert_same_training_state, checkpoint, signal_flag

OPTIONS = {"resolution": 28, "labels": "folders"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, digit_png_folder) -> Path:
    """The 5,000 PNG digits prepared at 28x28 with their folder labels, by two decoding processes."""
    out = tmp_path_factory.mktemp("prepared")
    counts = prepare(str(digit_png_folder), str(out), num_workers=2, **OPTIONS)
    assert counts == {"train": 4250, "val": 250, "test": 500}
    return out


def test_prepared_splits_hold_the_folder_modules_images_in_its_order(prepared, digit_png_folder):
    files = ImageFolderDataModule(root=str(digit_png_folder), num_workers=0, **OPTIONS)
    stream = StreamingImageDataModule(str(prepared), num_workers=0)
    assert stream.image_shape == files.image_shape == (1, 28, 28) and stream.num_classes == files.num_classes == 10
    for split in ("train", "val", "test"):  # stored in the folder's order: the very same tensors
        images, labels = stream.split_tensors(split)
        expected_images, expected_labels = files.split_tensors(split)
        assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels), split
    assert json.loads((prepared / SPLIT_FILE).read_text()) == files.describe()
    metadata = json.loads((prepared / DATASET_FILE).read_text())
    assert metadata["counts"] == {"train": 4250, "val": 250, "test": 500} and metadata["classes"] == list("0123456789")
    val = torch.cat([x for x, _ in stream.val_dataloader()])
    assert torch.equal(val, files.split_tensors("val")[0])  # the evaluation loaders read in order too


@pytest.mark.parametrize("workers", [0, 2])
def test_an_epoch_streams_every_training_image_once_in_a_seeded_order(prepared, workers):
    def epochs(seed: int) -> list[torch.Tensor]:
        dm = StreamingImageDataModule(str(prepared), num_workers=workers, batch_size=100, seed=seed)
        dm.setup()
        loader = dm.train_dataloader()
        return [torch.cat([y for _, y in loader]) for _ in range(2)], [torch.cat([x for x, _ in loader])]

    (first, second), (images,) = epochs(0)
    assert len(first) == len(second) == 4200  # 42 full batches of 100: the last 50 images wait for another epoch
    train, _ = StreamingImageDataModule(str(prepared), num_workers=0).split_tensors("train")
    rows = {row.numpy().tobytes() for row in train.flatten(1)}
    seen = [row.numpy().tobytes() for row in images.flatten(1)]
    assert len(set(seen)) == 4200 and set(seen) <= rows  # no image twice, every one a training image
    assert not torch.equal(first, second)  # a new order each epoch...
    again, _ = epochs(0)
    assert torch.equal(again[0], first) and torch.equal(again[1], second)  # ...the same for the same seed
    assert not torch.equal(epochs(1)[0][0], first)


def test_files_that_fail_to_decode_are_left_out_and_recorded(tmp_path):
    write_digit_pngs(tmp_path / "digits", 40)
    victim = sorted((tmp_path / "digits").rglob("*.png"))[3]
    victim.write_bytes(victim.read_bytes()[:60])  # header intact, pixels cut off
    (tmp_path / "digits" / "zero.png").write_bytes(b"")
    counts = prepare(str(tmp_path / "digits"), str(tmp_path / "out"), num_workers=1, resolution=28, test_size=5)
    relative = victim.relative_to(tmp_path / "digits").as_posix()
    assert sum(counts.values()) == 39  # 41 files, 1 empty, 1 truncated
    skipped = (tmp_path / "out" / SKIPPED_FILE).read_text().splitlines()
    assert skipped[0] == "zero.png\tempty file (0 bytes)" and skipped[1].startswith(f"{relative}\tfailed to decode")
    record = json.loads((tmp_path / "out" / SPLIT_FILE).read_text())
    assert relative not in [path for split in record["splits"].values() for path in split]
    assert sum(record["counts"].values()) == 39
    stream = StreamingImageDataModule(str(tmp_path / "out"), num_workers=0, batch_size=8)
    assert sum(len(stream.split_tensors(split)[0]) for split in ("train", "val", "test")) == 39


def test_missing_or_foreign_input_is_one_line(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"no readable dataset.json \(.*python -m datamodules.prepare") as err:
        StreamingImageDataModule(str(tmp_path / "nowhere"))
    assert "\n" not in str(err.value)
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: data.root {tmp_path / 'nowhere'}: no such folder")


def test_a_sigterm_mid_epoch_resumes_the_stream_with_the_next_batch(tmp_path, prepared):
    data = tmp_path / "data.yaml"
    init = {"input_dir": str(prepared), "num_workers": 1}
    data.write_text(json.dumps({"data": {"class_path": "datamodules.StreamingImageDataModule", "init_args": init}}))

    def fit(root: Path, *more: str) -> None:
        run_cli(
            "fit", "--config", QUICKSTART, "--config", str(data), *RUN,
            f"--trainer.default_root_dir={root}", record_flag(root.with_suffix(".txt")), *more,
        )  # fmt: skip

    fit(tmp_path / "straight")
    with pytest.raises(SystemExit) as stopped:
        fit(tmp_path / "killed", signal_flag("SIGTERM", 4))
    assert stopped.value.code == 128 + signal.SIGTERM
    saved = checkpoint(tmp_path / "killed")["StreamingImageDataModule"]
    assert (saved["epoch"], saved["batches"]) == (0, 4) and saved["loader"]["num_samples_yielded"] == 4 * 16
    fit(tmp_path / "killed", "--ckpt_path=last")
    straight = (tmp_path / "straight.txt").read_text().splitlines()
    # 2 epochs of 6 batches (limit_train_batches: each epoch cut short, the next a fresh LitData epoch)
    assert len(straight) == 12 and (tmp_path / "killed.txt").read_text().splitlines() == straight
    assert straight[0].split()[2] != straight[6].split()[2]
    assert_same_training_state(checkpoint(tmp_path / "straight"), checkpoint(tmp_path / "killed"))


def test_prepare_from_the_command_line_writes_chunks_and_records(tmp_path, stacked_jpeg_folder, capsys):
    root, _ = stacked_jpeg_folder
    main([str(root), str(tmp_path / "out"), "--resolution", "32", "--test-size", "20", "--num-workers", "1"])
    out = capsys.readouterr().out
    assert f"prepared {tmp_path / 'out'} from {root}: 265 train / 15 val / 20 test images" in out
    stream = StreamingImageDataModule(str(tmp_path / "out"), num_workers=0)
    assert stream.image_shape == (3, 32, 32) and stream.num_classes == 0
    images, labels = stream.split_tensors("test")
    reference = ImageFolderDataModule(root=str(root), resolution=32, test_size=20, num_workers=0)
    assert torch.equal(images, reference.split_tensors("test")[0]) and labels.tolist() == [-1] * 20
    assert sorted(p.name for p in (tmp_path / "out" / "train").iterdir())[-1] == "index.json"


def test_the_stream_reports_the_folders_digests_and_class_counts_and_reads_training_images_in_order(
    prepared, digit_png_folder
):
    """Evaluation on a stream: the folder's content digests (so the two share cached statistics and classifiers)
    and class balance from dataset.json, the training split read in the folder's order and sampled as the folder
    module samples it, without touching the training dataset's shuffled stream."""
    from gan_module.metrics.features import dataset_key

    files = ImageFolderDataModule(root=str(digit_png_folder), num_workers=0, **OPTIONS)
    stream = StreamingImageDataModule(str(prepared), num_workers=0)
    for split in ("train", "val", "test"):
        assert stream.content_digest(split) == files.content_digest(split)
        assert dataset_key(stream, split) == dataset_key(files, split)
        assert torch.equal(stream.class_counts(split), files.class_counts(split))
    assert dataset_key(stream, "test").startswith("ImageFolder-test-500-")
    stream.setup()
    assert stream.reader("train") is not stream.splits["train"] and not stream.reader("train").shuffle
    sample, labels = stream.split_sample("train", 64)
    expected, expected_labels = files.split_sample("train", 64)
    assert torch.equal(sample, expected) and torch.equal(labels, expected_labels)
    streamed = torch.cat([x for x, _ in stream.split_batches("train", 1000)])
    assert torch.equal(streamed, files.split_tensors("train")[0])


def test_a_folder_prepared_by_an_older_version_is_one_line(tmp_path, prepared):
    import shutil

    shutil.copytree(prepared, tmp_path / "old")
    metadata = json.loads((tmp_path / "old" / DATASET_FILE).read_text())
    (tmp_path / "old" / DATASET_FILE).write_text(json.dumps({**metadata, "format": 1}))
    with pytest.raises(ConfigError, match=r"expected 2 with class_counts, counts, digests, .*prepare it again"):
        StreamingImageDataModule(str(tmp_path / "old"))
