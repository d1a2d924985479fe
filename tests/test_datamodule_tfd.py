"""TFD: the official folds select the splits, expressions become labels 0..6, bad files fail with what to do."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import scipy.io
import torch

from datamodules import TFDDataModule
from gan_module import ConfigError
from tests.conftest import tiny_tfd


def face_ids(dm: TFDDataModule, split: str) -> list[int]:
    return dm.splits[split].tensors[0][:, 0, 0, 0].tolist()  # pixel (0, 0) of face i is i


def write_mat(path, **changes):
    arrays = tiny_tfd()
    arrays.update(changes)
    scipy.io.savemat(path, {k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize("fold", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("train_on", ["unlabeled", "train", "all"])
def test_the_fold_column_selects_train_valid_and_test_faces(tfd_path, fold, train_on):
    dm = TFDDataModule(path=str(tfd_path), fold=fold, train_on=train_on, batch_size=4)
    dm.setup()
    column = tiny_tfd()["folds"][:, fold - 1]
    faces = {code: np.flatnonzero(column == code).tolist() for code in (0, 1, 2, 3)}
    pool = {"unlabeled": faces[0], "train": faces[1], "all": sorted(faces[0] + faces[1])}[train_on]
    assert face_ids(dm, "train") == pool
    assert face_ids(dm, "val") == faces[2] and face_ids(dm, "test") == faces[3]
    assert len(faces[2]) == len(faces[3]) == 8  # the fixture's folds really differ: 8 of 24 labelled each


def test_labels_are_expressions_0_to_6_and_minus_1_without_one(tfd_path):
    dm = TFDDataModule(path=str(tfd_path), fold=2, train_on="all", batch_size=4)
    dm.setup()
    for split in ("train", "val", "test"):
        ids = torch.tensor(face_ids(dm, split))
        expected = torch.where(ids >= 24, ids % 7, -1)  # the fixture's labs_ex: 1 + i % 7 labelled, -1 not
        assert torch.equal(dm.splits[split].tensors[1], expected) and dm.splits[split].tensors[1].dtype == torch.int64
    assert set(dm.splits["train"].tensors[1].tolist()) >= {-1, 0}


def test_images_are_the_file_pixels_as_1x48x48_uint8(tfd_path):
    dm = TFDDataModule(path=str(tfd_path), fold=1, train_on="train", batch_size=4)
    dm.setup()
    x = dm.splits["test"].tensors[0]
    ids = face_ids(dm, "test")
    assert x.dtype == torch.uint8 and x.shape == (8, 1, 48, 48)
    assert torch.equal(x[:, 0], torch.from_numpy(tiny_tfd()["images"][ids]))


def test_num_classes_and_shape_are_known_before_any_file_is_read(tmp_path):
    missing = str(tmp_path / "none.mat")
    assert TFDDataModule(path=missing, train_on="train").num_classes == 7
    assert TFDDataModule(path=missing, train_on="unlabeled").num_classes == 0
    assert TFDDataModule(path=missing, train_on="all").num_classes == 0
    assert TFDDataModule(path=missing).image_shape == (1, 48, 48)


def test_val_size_and_test_size_are_ignored_for_the_official_splits(tfd_path):
    dm = TFDDataModule(path=str(tfd_path), val_size=10**6, test_size=10**6, batch_size=4)
    dm.setup()
    assert (len(dm.splits["train"]), len(dm.splits["val"]), len(dm.splits["test"])) == (24, 8, 8)


def test_bad_fold_or_train_on_is_refused_at_once(tmp_path):
    with pytest.raises(ConfigError, match=r"data.fold must be one of TFD's official folds 1..5, got 0"):
        TFDDataModule(fold=0)
    with pytest.raises(ConfigError, match=r"data.fold .* got 6"):
        TFDDataModule(fold=6)
    with pytest.raises(ConfigError, match=r"data.train_on must be one of unlabeled, train, all, got 'labelled'"):
        TFDDataModule(train_on="labelled")


def test_a_missing_file_says_where_to_put_it_and_whom_to_ask(tmp_path):
    path = tmp_path / "data" / "TFD_48x48.mat"
    with pytest.raises(ConfigError) as err:
        TFDDataModule(path=str(path)).setup()
    message = str(err.value)
    assert f"no file {path}." in message and "cannot be downloaded" in message
    assert "University of Toronto" in message and "Susskind" in message and "data.path" in message


def test_a_matlab_v73_file_says_how_to_resave_it(tmp_path):
    # MATLAB v7.3 files are HDF5 behind a 128-byte MAT header whose version field is 0x0200
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116) + bytes(8)
    path = tmp_path / "TFD_48x48.mat"
    path.write_bytes(header + struct.pack("<H", 0x0200) + b"IM" + bytes(384) + b"\x89HDF\r\n\x1a\n" + bytes(64))
    with pytest.raises(ConfigError, match=r"is a MATLAB v7\.3 \(HDF5\) file.*'-v7'"):
        TFDDataModule(path=str(path)).setup()


def test_a_truncated_file_is_named(tfd_path, tmp_path):
    path = tmp_path / "TFD_48x48.mat"
    path.write_bytes(tfd_path.read_bytes()[:3000])
    with pytest.raises(ConfigError, match=r"TFD_48x48.mat is not a readable MATLAB file .truncated or corrupt"):
        TFDDataModule(path=str(path)).setup()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labs_ex": None}, "it lacks labs_ex"),
        ({"images": np.zeros((48, 32, 32), np.uint8)}, r"images must be \(N, 48, 48\), found \(48, 32, 32\)"),
        ({"folds": np.zeros((48, 4))}, r"folds must be \(48, 5\) with values 0..3"),
        ({"folds": np.full((48, 5), 7.0)}, r"folds must be \(48, 5\) with values 0..3, found \(48, 5\) \[7\.\]"),
        ({"labs_ex": np.ones((40, 1))}, r"labs_ex must have one expression per image \(48\)"),
        ({"images": np.full((48, 48, 48), 300.0)}, "images must be pixels 0..255"),
    ],
)
def test_wrong_contents_are_named(tmp_path, changes, message):
    path = write_mat(tmp_path / "TFD_48x48.mat", **changes)
    with pytest.raises(ConfigError, match=message):
        TFDDataModule(path=str(path)).setup()


def test_a_fold_without_validation_faces_is_named(tmp_path):
    folds = tiny_tfd()["folds"]
    folds[folds[:, 1] == 2, 1] = 1
    path = write_mat(tmp_path / "TFD_48x48.mat", folds=folds)
    TFDDataModule(path=str(path), fold=1, batch_size=4).setup()  # the other folds still work
    with pytest.raises(ConfigError, match=r"fold 2 has no valid faces"):
        TFDDataModule(path=str(path), fold=2).setup()


def test_labelled_training_needs_an_expression_for_every_face(tmp_path):
    labs_ex = tiny_tfd()["labs_ex"]
    labs_ex[30] = -1
    path = write_mat(tmp_path / "TFD_48x48.mat", labs_ex=labs_ex)
    fold = next(k for k in range(1, 6) if tiny_tfd()["folds"][30, k - 1] == 1)
    with pytest.raises(ConfigError, match=f"some of fold {fold}'s training faces have no expression label"):
        TFDDataModule(path=str(path), fold=fold, train_on="train").setup()


def test_integral_float_pixels_are_accepted_as_uint8(tmp_path):
    images = tiny_tfd()["images"].astype(float)
    dm = TFDDataModule(path=str(write_mat(tmp_path / "TFD_48x48.mat", images=images)), batch_size=4)
    dm.setup()
    assert dm.splits["train"].tensors[0].dtype == torch.uint8
    assert torch.equal(dm.splits["train"].tensors[0][:, 0], torch.from_numpy(tiny_tfd()["images"][:24]))
