"""datamodules/image_folder.py: a user's folder of real images, every file kind, splits, records, resume, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import ImageFolderDataModule
from datamodules.folder_listing import list_images
from datamodules.folder_split import SKIPPED_FILE, SPLIT_FILE
from gan_module.errors import ConfigError
from tests.conftest import FAST, count_decodes, real_digits, run_cli, write_digit_pngs
from tests.test_cli import QUICKSTART
from tests.test_preemption import RUN, assert_same_training_state, signal_flag

IMAGE_FOLDER_BASE = str(Path(__file__).resolve().parent.parent / "configs" / "image_folder" / "base.yaml")


def digits_by_file(root: Path) -> dict[str, tuple[np.ndarray, int]]:
    """Relative path -> (the real digit written there, its class)."""
    images, labels = real_digits()
    return {f"{label}/{i:05d}.png": (images[i], int(label)) for i, label in enumerate(labels)}


def every_file(record: dict) -> list[str]:
    return [path for split in record["splits"].values() for path in split]


def folder(**kwargs) -> ImageFolderDataModule:
    kwargs.setdefault("num_workers", 0)
    return ImageFolderDataModule(**kwargs)


# ------------------------------------------------------------------------------------------- the PNG digit folder
def test_png_digits_decode_to_their_pixels_labels_and_a_seeded_split(digit_png_folder, caplog):
    with caplog.at_level("INFO"):
        dm = folder(root=str(digit_png_folder), resolution=28, labels="folders")
        dm.setup()
    assert dm.image_shape == (1, 28, 28) and dm.num_classes == 10 and dm.classes == [str(d) for d in range(10)]
    sizes = {name: len(split) for name, split in dm.splits.items()}
    assert sizes == {"train": 4250, "val": 250, "test": 500}  # 5% and 10% of 5,000
    record = dm.describe()
    files = {name: record["splits"][name] for name in ("train", "val", "test")}
    assert sorted(files["train"] + files["val"] + files["test"]) == sorted(digits_by_file(digit_png_folder))
    assert not set(files["train"]) & set(files["test"]) and not set(files["val"]) & set(files["test"])
    assert files["test"] == sorted(files["test"])  # each split keeps the folder's order
    truth = digits_by_file(digit_png_folder)
    images, labels = dm.split_tensors("test")  # 28x28 at 28: the exact pixels, nothing resampled
    assert images.dtype == torch.uint8 and images.shape == (500, 1, 28, 28)
    for k in (0, 123, 499):
        pixels, label = truth[files["test"][k]]
        assert torch.equal(images[k, 0], torch.from_numpy(pixels)) and labels[k] == label
    lines = [r.getMessage() for r in caplog.records if str(digit_png_folder) in r.getMessage()]
    assert lines == [
        f"data: channels=1: 0 of 32 usable files sampled across {digit_png_folder} are in colour (all grey); "
        "set data.channels: 1 or 3 to choose.",
        f"data: {digit_png_folder}: 4,250 train / 250 val / 500 test images, 10 classes",
    ]
    # the same split_seed gives the same held-out files; another gives others; the training seed changes neither
    again = folder(root=str(digit_png_folder), resolution=28, labels="folders", seed=7)
    other = folder(root=str(digit_png_folder), resolution=28, labels="folders", split_seed=1)
    assert again.describe()["splits"]["test"] == files["test"]
    assert len(set(other.describe()["splits"]["test"]) & set(files["test"])) < 100  # ~10% overlap by chance


def test_unlabelled_folders_give_label_minus_one_and_no_classes(digit_png_folder):
    dm = folder(root=str(digit_png_folder), resolution=32, channels=3, test_size=10, val_size=5, batch_size=8)
    dm.setup()
    assert dm.num_classes == 0 and dm.image_shape == (3, 32, 32)
    assert [len(dm.splits[s]) for s in ("train", "val", "test")] == [4985, 5, 10]
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.uint8 and labels.tolist() == [-1] * 8
    assert torch.equal(images[:, 0], images[:, 2])  # grey replicated into three channels


def test_training_batches_follow_the_resumable_sampler_and_the_memory_cache_gives_the_same(digit_png_folder):
    common = {"root": str(digit_png_folder), "resolution": 28, "labels": "folders", "batch_size": 50, "seed": 3}
    files, cached = folder(**common), folder(**common, cache="memory")
    files.setup()
    cached.setup()
    assert type(cached.splits["train"]).__name__ == "TensorSplit"
    for (a, y), (b, z), _ in zip(files.train_dataloader(), cached.train_dataloader(), range(5), strict=False):
        assert torch.equal(a, b) and torch.equal(y, z)
    # one worker process decodes the same batches
    workers = folder(**common, num_workers=1)
    workers.setup()
    first = next(iter(workers.train_dataloader()))
    assert torch.equal(first[0], next(iter(files.train_dataloader()))[0])


def test_presplit_folders_are_used_as_they_are(tmp_path):
    for split, count in (("train", 60), ("val", 0), ("test", 20)):
        if count:
            write_digit_pngs(tmp_path / "pool" / split, count)
    # the test folder holds the first 20 digits again: they are the test split, whatever the training folder holds
    dm = folder(root=str(tmp_path / "pool"), resolution=28, labels="folders", val_size=6, batch_size=4)
    dm.setup()
    record = dm.describe()
    assert [len(record["splits"][s]) for s in ("train", "val", "test")] == [54, 6, 20]
    assert all(path.startswith("test/") for path in record["splits"]["test"])
    assert all(path.startswith("train/") for path in record["splits"]["train"] + record["splits"]["val"])
    assert record["how"]["layout"] == "train/, val/, test/ folders"


def test_the_split_file_pins_the_split_when_images_are_added(digit_png_folder, tmp_path):
    root = tmp_path / "digits"
    write_digit_pngs(root, 200)
    pin = tmp_path / "pinned" / SPLIT_FILE
    first = folder(root=str(root), resolution=28, split_file=str(pin))
    before = first.describe()["splits"]
    assert pin.is_file() and json.loads(pin.read_text())["splits"] == before
    shutil.copy(digit_png_folder / "3" / next(p.name for p in (digit_png_folder / "3").iterdir()), root / "new.png")
    (root / before["test"][0]).unlink()
    pinned = folder(root=str(root), resolution=28, split_file=str(pin))
    after = pinned.describe()
    assert "new.png" not in every_file(after)  # the added image stays out
    assert after["splits"]["test"] == before["test"][1:] and after["splits"]["train"] == before["train"]
    assert pinned.record.skipped == [(before["test"][0], "missing (gone, or a broken link)")]
    anew = folder(root=str(root), resolution=28)
    assert "new.png" in every_file(anew.describe())


# ------------------------------------------------------------------------------------------- colour JPEGs
def test_stacked_colour_jpegs_keep_their_channels(stacked_jpeg_folder, caplog):
    root, written = stacked_jpeg_folder
    with caplog.at_level("INFO"):
        dm = folder(root=str(root), resolution=64, val_size=0, test_size=0)
    assert dm.image_shape == (3, 64, 64)  # chosen from the headers: colour
    assert "data: channels=3: 32 of 32 usable files sampled" in caplog.text
    images, _ = dm.split_tensors("train")
    assert images.shape == (300, 3, 64, 64)
    for k in (0, 150, 299):  # at its own size, a file decodes to exactly what Pillow reads from it
        plain = np.asarray(Image.open(root / f"stack_{k:03d}.jpg").convert("RGB"))
        assert torch.equal(images[k].permute(1, 2, 0), torch.from_numpy(plain))
    error = (images.permute(0, 2, 3, 1).float() - torch.from_numpy(written).float()).abs()
    assert error.mean() < 5  # JPEG (quality 95, chroma subsampled) of the written pixels: close, not exact
    # three independent digits per image: the channels differ far more than the JPEG error
    assert (images[:, 0].float() - images[:, 1].float()).abs().mean() > 20
    half = folder(root=str(root), resolution=32, channels=3, val_size=0, test_size=0)
    small, _ = half.split_tensors("train")
    reference = torch.from_numpy(written).permute(0, 3, 1, 2).float()
    pooled = torch.nn.functional.avg_pool2d(reference, 2)  # a 2x reduction, near what bicubic downscaling gives
    assert small.shape == (300, 3, 32, 32) and (small.float() - pooled).abs().mean() < 6


# ------------------------------------------------------------------------------------------- every file kind
RED, CYAN, WHITE = (255, 0, 0), (0, 255, 255), (255, 255, 255)


def write_every_kind(root: Path) -> None:
    """One file of each format and mode the module converts, and one of each bad kind (real files, no mocks)."""
    root.mkdir(parents=True, exist_ok=True)
    colour = np.zeros((16, 16, 3), dtype=np.uint8)
    colour[:8] = RED  # top half red, bottom half black
    Image.fromarray(colour).save(root / "lossless.webp", lossless=True)
    Image.fromarray(colour).save(root / "colour.bmp")
    Image.fromarray(colour).save(root / "colour.tif")
    Image.fromarray(colour).save(root / "UPPER.PNG")
    frames = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), (0, 0, 255))]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:])
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(root / "cmyk.jpg", quality=95)
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([0, 0, 0, *RED] + [0] * 762)
    palette.paste(1, (8, 0, 16, 16))  # right half red, left half index 0: transparent
    palette.save(root / "palette.png", transparency=0)
    half = np.zeros((16, 16, 4), dtype=np.uint8)
    half[..., 3] = 128  # black at half opacity
    Image.fromarray(half, "RGBA").save(root / "half_alpha.png")
    values = np.random.default_rng(0).integers(0, 65536, (16, 16)).astype(np.uint16)
    Image.fromarray(values).save(root / "sixteen_bit.png")
    np.save(root.parent / "sixteen_bit.npy", values)
    upright = np.full((32, 32, 3), 255, dtype=np.uint8)
    upright[:8, :8] = RED  # a red block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: the stored pixels are shown rotated 90 degrees clockwise
    Image.fromarray(upright).save(root / "rotated.jpg", exif=exif, quality=95)
    Image.fromarray(real_digits()[0][0]).save(root / "digit.png")
    # the bad ones
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image, whatever the name says\n")
    Image.new("L", (4, 4), 128).save(root / "tiny.png")
    whole = root.parent / "whole.jpg"
    Image.fromarray(stacked_pixels()).save(whole, quality=95)
    (root / "truncated.jpg").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    big_png = root.parent / "whole.png"
    Image.fromarray(stacked_pixels()).save(big_png)
    (root / "truncated.png").write_bytes(big_png.read_bytes()[: big_png.stat().st_size // 2])
    (root / "notes.txt").write_text("ignored: not an image name\n")
    (root / ".hidden.png").write_bytes(b"")  # hidden: never listed


#: the kinds folder read whole into training, at 16x16 RGB
KINDS = {"resolution": 16, "channels": 3, "val_fraction": 0, "test_fraction": 0, "batch_size": 4}


def stacked_pixels() -> np.ndarray:
    images, _ = real_digits()
    return np.stack([images[0], images[1], images[2]], axis=-1)


def pixels(dm: ImageFolderDataModule, name: str) -> torch.Tensor:
    """The decoded image of file ``name`` of the training split, (C, H, W)."""
    split = dm.splits["train"]
    return split[list(split.files).index(name)][0]


def test_every_format_and_mode_is_converted_the_same_way(tmp_path, caplog, capfd):
    write_every_kind(tmp_path / "kinds")
    with caplog.at_level("INFO"):
        dm = folder(root=str(tmp_path / "kinds"), **KINDS)
        dm.setup()
    red_top = torch.zeros(3, 16, 16, dtype=torch.uint8)
    red_top[0, :8] = 255
    for name in ("lossless.webp", "colour.bmp", "colour.tif", "UPPER.PNG"):
        assert torch.equal(pixels(dm, name), red_top), name  # lossless formats: the exact pixels
    assert pixels(dm, "animated.gif").float().mean((1, 2)).tolist() == [255.0, 0.0, 0.0]  # the first frame
    cmyk = pixels(dm, "cmyk.jpg").float().mean((1, 2))
    assert (cmyk - torch.tensor(CYAN).float()).abs().max() < 3  # CMYK cyan -> RGB cyan
    palette = pixels(dm, "palette.png")
    assert palette[:, :, :8].eq(255).all()  # transparent palette entries composited on white
    assert palette[0, :, 8:].eq(255).all() and palette[1:, :, 8:].eq(0).all()
    assert pixels(dm, "half_alpha.png").unique().tolist() == [127]  # black at alpha 128 over white: 255 * 127/255
    sixteen = np.load(tmp_path / "sixteen_bit.npy").astype(np.int64)
    expected = torch.from_numpy(((sixteen + 128) // 257).astype(np.uint8))
    assert torch.equal(pixels(dm, "sixteen_bit.png")[0], expected)  # 16 bits scaled to 8, not clipped at 255
    rotated = pixels(dm, "rotated.jpg").float()  # 32x32 -> 16x16: the red block is 4x4
    assert rotated[1, :4, 12:].mean() < 40 and rotated[0, :4, 12:].mean() > 220  # now at the top-right
    assert rotated[1, :4, :4].mean() > 220  # the stored top-left is white after the rotation
    grey = pixels(dm, "digit.png")
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    # the bad files: skipped at the header check, counted, named, recorded; never the hidden or the .txt file
    record = dm.record
    skipped = dict(record.skipped)
    assert skipped == {
        "empty.png": "empty file (0 bytes)",
        "text.png": "not an image Pillow can read",
        "tiny.png": "too small (4x4 px, min_size 8)",
    }
    summary = [r.getMessage() for r in caplog.records if "files skipped" in r.getMessage()]
    assert len(summary) == 1
    assert "3 files skipped (1 empty file, 1 not an image Pillow can read, 1 too small)" in summary[0]
    assert "empty.png, text.png, tiny.png" in summary[0]
    assert len(dm.splits["train"]) == 13  # 11 good + the 2 truncated files, whose headers are intact
    dm.save_split(tmp_path / "run")
    assert (tmp_path / "run" / SKIPPED_FILE).read_text().splitlines() == [f"{k}\t{v}" for k, v in skipped.items()]
    # the truncated files fail while decoding: each is replaced by the next file and named once on stderr
    capfd.readouterr()
    seen = [dm.splits["train"][i] for i in range(len(dm.splits["train"]))] * 2
    assert len(seen) == 26
    names = list(dm.splits["train"].files)
    for bad in ("truncated.jpg", "truncated.png"):
        index = names.index(bad)
        assert torch.equal(seen[index][0], seen[index + 1][0])
    err = capfd.readouterr().err
    assert err.count("failed to decode") == 2 and "truncated.jpg" in err and "truncated.png" in err
    # decoded once into memory, the truncated files leave the split and join the record
    cached = folder(root=str(tmp_path / "kinds"), **KINDS, cache="memory")
    cached.setup()
    assert len(cached.splits["train"]) == 11 and len(cached.record.skipped) == 5
    assert {k for k, v in cached.record.skipped if v.startswith("failed to decode")} == {
        "truncated.jpg",
        "truncated.png",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file (CI runs as root)")
def test_an_unreadable_file_is_skipped(tmp_path):
    write_digit_pngs(tmp_path, 20)
    locked = next((tmp_path / "0").iterdir())
    locked.chmod(0)
    try:
        dm = folder(root=str(tmp_path), resolution=28, val_fraction=0, test_fraction=0, batch_size=4)
        dm.setup()
    finally:
        locked.chmod(0o644)
    assert dict(dm.record.skipped) == {f"0/{locked.name}": "unreadable (permission denied)"}


def test_links_are_followed_once_names_sorted_and_memory_is_a_few_bytes_a_file(tmp_path, digit_png_folder):
    root = tmp_path / "root"
    (root / "b").mkdir(parents=True)
    shutil.copy(
        digit_png_folder / "1" / next(p.name for p in (digit_png_folder / "1").iterdir()), root / "b" / "x.JPG.png"
    )
    (root / "a_link").symlink_to(digit_png_folder / "7")  # a folder elsewhere
    (root / "b" / "loop").symlink_to(root)  # a cycle
    (root / "c.PNG").symlink_to(root / "b" / "x.JPG.png")  # a link to a file
    listing = list_images(str(root))
    sevens = sorted(p.name for p in (digit_png_folder / "7").iterdir())
    assert list(listing.files) == [*(f"a_link/{n}" for n in sevens), "b/x.JPG.png", "c.PNG"]
    table = listing.files
    assert table.nbytes == sum(len(p) for p in table) + 8 * (len(table) + 1)


# ------------------------------------------------------------------------------------------- read for evaluation
def test_the_content_digest_follows_the_images_not_the_folder(tmp_path):
    write_digit_pngs(tmp_path / "mine", 300)
    options = {"resolution": 28, "labels": "folders", "test_size": 30, "val_size": 10}
    digests = {s: folder(root=str(tmp_path / "mine"), **options).content_digest(s) for s in ("train", "val", "test")}
    assert len(set(digests.values())) == 3
    # moved, renamed, copied with new modification times: the same images, the same digests
    shutil.copytree(tmp_path / "mine", tmp_path / "elsewhere" / "renamed")
    for file in (tmp_path / "elsewhere" / "renamed").rglob("*.png"):
        os.utime(file, (1e9, 1e9))
    copy = folder(root=str(tmp_path / "elsewhere" / "renamed"), **options)
    assert {s: copy.content_digest(s) for s in digests} == digests
    # what the model sees is part of it: the resolution, the range
    mine = str(tmp_path / "mine")
    assert folder(root=mine, **{**options, "resolution": 32}).content_digest("test") != digests["test"]
    assert folder(root=mine, **options, value_range=(-1, 1)).content_digest("test") != digests["test"]
    # one held-out image changed (same digit, one pixel): that split's digest changes, the others do not
    record = copy.describe()
    victim = tmp_path / "elsewhere" / "renamed" / record["splits"]["test"][7]
    pixels = np.asarray(Image.open(victim)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(victim)
    changed = folder(root=str(tmp_path / "elsewhere" / "renamed"), **options)
    assert changed.content_digest("test") != digests["test"]
    assert changed.content_digest("val") == digests["val"] and changed.content_digest("train") == digests["train"]
    # the training split: every size and a strided sample of the bytes (every file, below 512 files)
    victim = tmp_path / "elsewhere" / "renamed" / record["splits"]["train"][100]
    pixels = np.asarray(Image.open(victim)).copy()
    pixels[5, 5] ^= 1
    Image.fromarray(pixels).save(victim)
    assert folder(root=str(tmp_path / "elsewhere" / "renamed"), **options).content_digest("train") != digests["train"]


def test_splits_are_read_in_batches_and_bounded_seeded_samples(digit_png_folder, monkeypatch):
    dm = folder(root=str(digit_png_folder), resolution=28, labels="folders", test_size=300)
    images, labels = dm.split_tensors("test")
    batches = list(dm.split_batches("test", 128))
    assert [len(x) for x, _ in batches] == [128, 128, 44]
    assert torch.equal(torch.cat([x for x, _ in batches]), images)
    assert torch.equal(torch.cat([y for _, y in batches]), labels)
    decoded = count_decodes(monkeypatch)
    sample, sample_labels = dm.split_sample("train", 200)
    assert decoded == {len(dm.splits["train"]): 200} and dm.sample_size("train", 200) == 200
    again, _ = dm.split_sample("train", 200)
    assert torch.equal(sample, again)  # the same sample every time
    chosen = np.sort(np.random.default_rng(0).choice(len(dm.splits["train"]), 200, replace=False))
    truth = digits_by_file(digit_png_folder)
    train_files = dm.describe()["splits"]["train"]
    for k in (0, 99, 199):  # in the split's order, the very files drawn
        pixels, label = truth[train_files[chosen[k]]]
        assert torch.equal(sample[k, 0], torch.from_numpy(pixels)) and sample_labels[k] == label
    decoded.clear()
    assert torch.equal(dm.class_counts("train"), torch.bincount(dm.split_labels("train"), minlength=10))
    assert dm.class_counts("train").sum() == len(dm.splits["train"]) and decoded == {}  # labels from the record
    assert dm.sample_size("test", 1000) == 300 and dm.sample_size("train", None) == len(dm.splits["train"])


# ------------------------------------------------------------------------------------------- one-line errors
def test_bad_roots_and_settings_are_one_config_error_line(tmp_path, digit_png_folder):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    (tmp_path / "a_file.png").write_bytes(b"")
    (tmp_path / "all_bad").mkdir()
    (tmp_path / "all_bad" / "empty.png").write_bytes(b"")
    (tmp_path / "all_bad" / "text.jpg").write_text("text")
    cases = [
        ({"root": str(tmp_path / "nowhere")}, "no such folder"),
        ({"root": str(tmp_path / "a_file.png")}, "is a file, not a folder"),
        ({"root": str(tmp_path / "empty")}, "holds no image files"),
        ({"root": str(tmp_path / "all_bad")}, "none of its 2 image files is usable"),
        ({"root": str(tmp_path / "empty"), "labels": "classes"}, "data.labels must be 'none' or 'folders'"),
        ({"root": str(tmp_path / "all_bad"), "labels": "folders"}, "needs one sub-folder per class"),
        ({"root": str(digit_png_folder), "cache": "memory", "resolution": 4096, "channels": 3}, "GiB available"),
        ({"root": str(digit_png_folder), "val_fraction": 0.5, "test_fraction": 0.5}, "sum below 1"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message) as err:
            folder(**kwargs)
        assert "\n" not in str(err.value)
    all_bad = folder(root=str(tmp_path / "all_bad"), channels=1)  # known channels: found bad at setup
    with pytest.raises(ConfigError, match="none of its 2 image files is usable"):
        all_bad.setup()


def test_the_cli_says_error_in_one_line_and_leaves_no_run_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        run_cli(
            "fit",
            "--config",
            IMAGE_FOLDER_BASE,
            f"--data.init_args.root={tmp_path / 'nowhere'}",
            f"--trainer.default_root_dir={tmp_path / 'runs'}",
        )
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: data.root {tmp_path / 'nowhere'}: no such folder: give the folder that holds your images."]
    assert not any((tmp_path / "runs").glob("version_*"))


# ------------------------------------------------------------------------------------------- through the CLI
def data_config(tmp_path: Path, root: Path, **init_args) -> str:
    """A --config fragment naming the folder module (replacing a recipe's data)."""
    path = tmp_path / "data.yaml"
    args = {"root": str(root), "num_workers": 0, **init_args}
    path.write_text(json.dumps({"data": {"class_path": "datamodules.ImageFolderDataModule", "init_args": args}}))
    return str(path)


SCORE_FAST = ["--evaluation.metrics=[parzen]", "--evaluation.num_samples=40", "--evaluation.parzen_val_size=40"]


@pytest.mark.parametrize(
    ("recipe", "resolution", "networks"),
    [
        (
            IMAGE_FOLDER_BASE,
            32,
            ["--model.generator.init_args.base_channels=4", "--model.discriminator.init_args.base_channels=4"],
        ),
        (
            QUICKSTART,
            28,
            ["--model.generator.init_args.hidden_dims=[32]", "--model.discriminator.init_args.hidden_dims=[16]"],
        ),
    ],
    ids=["dcgan32", "quickstart_mlp28"],
)
def test_fit_then_test_through_the_cli_record_the_same_split(tmp_path, digit_png_folder, recipe, resolution, networks):
    data = data_config(tmp_path, digit_png_folder, resolution=resolution, labels="folders", test_size=40)
    common = ["--config", recipe, "--config", data, *networks, f"--trainer.default_root_dir={tmp_path / 'runs'}"]
    run_cli("fit", *common, *FAST)
    run = tmp_path / "runs" / "version_0"
    record = json.loads((run / SPLIT_FILE).read_text())
    assert record["counts"] == {"train": 4710, "val": 250, "test": 40} and record["classes"] == list("0123456789")
    assert (run / SKIPPED_FILE).read_text() == ""
    run_cli("test", *common, "--ckpt_path=last", *SCORE_FAST)
    assert "eval/parzen_40_test" in (run / "test" / "metrics.csv").read_text()
    assert json.loads((run / "test" / SPLIT_FILE).read_text()) == record  # scored on the very held-out images


class RecordBatches(L.Callback):
    """Appends a digest of every trained batch to a file, so runs can be compared batch by batch."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        images, labels = batch
        digest = hashlib.sha1(images.cpu().numpy().tobytes()).hexdigest()
        digest = f"{trainer.current_epoch} {batch_idx} {digest} {labels.tolist()}"
        with open(self.path, "a") as file:
            file.write(digest + "\n")


def record_flag(path: Path) -> str:
    spec = {"class_path": "tests.test_datamodule_image_folder.RecordBatches", "init_args": {"path": str(path)}}
    return f"--trainer.callbacks+={json.dumps(spec)}"


def test_a_sigterm_mid_epoch_resumes_with_the_next_batch_from_worker_processes(tmp_path, digit_png_folder):
    from tests.test_preemption import checkpoint

    data = data_config(tmp_path, digit_png_folder, resolution=28, labels="folders", num_workers=1)
    args = ["--config", QUICKSTART, "--config", data, *RUN]

    def fit(root: Path, *more: str) -> None:
        run_cli("fit", *args, f"--trainer.default_root_dir={root}", record_flag(root.with_suffix(".txt")), *more)

    fit(tmp_path / "straight")
    with pytest.raises(SystemExit) as stopped:
        fit(tmp_path / "killed", signal_flag("SIGTERM", 4))  # a real SIGTERM to this process after batch 4
    assert stopped.value.code == 128 + signal.SIGTERM
    assert checkpoint(tmp_path / "killed")["ImageFolderDataModule"] == {"epoch": 0, "batches": 4}
    fit(tmp_path / "killed", "--ckpt_path=last")
    straight = (tmp_path / "straight.txt").read_text().splitlines()
    assert len(straight) == 12 and (tmp_path / "killed.txt").read_text().splitlines() == straight
    assert_same_training_state(checkpoint(tmp_path / "straight"), checkpoint(tmp_path / "killed"))
