"""The Toronto Face Database (Susskind, Anderson & Hinton 2010, UTML TR 2010-001), the 2014 paper's face data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import torch

from datamodules.base import ImageArrays, ImageDataModule
from gan_module.errors import ConfigError

#: the values of a ``folds`` column
UNLABELED, TRAIN, VALID, TEST = 0, 1, 2, 3
#: which faces of the fold make the training pool, per ``train_on``
TRAIN_ON = {"unlabeled": (UNLABELED,), "train": (TRAIN,), "all": (UNLABELED, TRAIN)}
KEYS = ("images", "folds", "labs_ex")
NUM_FOLDS, NUM_EXPRESSIONS = 5, 7


class TFDDataModule(ImageDataModule):
    """TFD's 48x48 grey faces from ``TFD_48x48.mat`` (a MATLAB v5 file, which scipy reads): about 98,000
    unlabelled faces and about 4,200 with one of 7 expressions, in 5 official folds.

    The file holds ``images`` (N, 48, 48) uint8; ``folds`` (N, 5), column k the k-th fold: 0 unlabelled, 1 train,
    2 valid, 3 test; ``labs_ex`` (N, 1), the expression 1..7 or -1; ``labs_id`` (identity, not used).

    Splits of fold ``fold``: training pool per ``train_on`` ("unlabeled", as the 2014 paper's code trained;
    "train", the fold's labelled training faces; "all", both), validation = the fold's valid faces, test = its
    test faces. These are official, so ``val_size`` and ``test_size`` are ignored.

    Labels are the expression 0..6 (``labs_ex`` - 1), -1 for a face without one. Only ``train_on: train`` has
    an expression for every training face, so only it reports ``num_classes`` 7 (0 otherwise).

    Args:
        path: the ``TFD_48x48.mat`` file.
        fold: the official fold, 1..5.
        train_on: "unlabeled", "train" or "all".
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (batch_size, ...).
    """

    image_shape = (1, 48, 48)

    def __init__(self, path: str = "data/TFD_48x48.mat", fold: int = 1, train_on: str = "unlabeled", **kwargs) -> None:
        super().__init__(**kwargs)
        if fold not in range(1, NUM_FOLDS + 1):
            raise ConfigError(f"data.fold must be one of TFD's official folds 1..{NUM_FOLDS}, got {fold}.")
        if train_on not in TRAIN_ON:
            raise ConfigError(f"data.train_on must be one of {', '.join(TRAIN_ON)}, got {train_on!r}.")
        self.path, self.fold, self.train_on = Path(path), fold, train_on
        # decided here, not from the file: gan_module/cli.py links it into the networks before setup reads anything
        self.num_classes = NUM_EXPRESSIONS if train_on == "train" else 0

    def load(self) -> ImageArrays:
        images, folds, expressions = check_contents(self.path, read_mat(self.path))
        column = folds[:, self.fold - 1]
        chosen = {
            "training": np.isin(column, TRAIN_ON[self.train_on]),
            "valid": column == VALID,
            "test": column == TEST,
        }
        for name, mask in chosen.items():
            if not mask.any():
                raise ConfigError(
                    f"{self.path}: fold {self.fold} has no {name} faces (train_on={self.train_on!r}); choose "
                    "another data.fold, or check that the file is the original TFD_48x48.mat."
                )
        if self.num_classes and (expressions[chosen["training"]] < 0).any():
            raise ConfigError(f"{self.path}: some of fold {self.fold}'s training faces have no expression label.")
        x, y = torch.from_numpy(images).unsqueeze(1), torch.from_numpy(expressions)
        train, valid, test = (torch.from_numpy(mask) for mask in chosen.values())
        return ImageArrays(x[train], y[train], x[test], y[test], x[valid], y[valid])


def read_mat(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``KEYS`` in a MATLAB file; :class:`ConfigError` saying how to get or fix the file."""
    if not path.is_file():
        raise ConfigError(
            f"TFDDataModule: no file {path}. The Toronto Face Database cannot be downloaded: request it from its "
            "owners at the University of Toronto (Susskind, Anderson & Hinton 2010, tech report UTML TR 2010-001), "
            "then put TFD_48x48.mat there or set data.path to it."
        )
    try:
        return scipy.io.loadmat(path, variable_names=KEYS)
    except NotImplementedError as err:  # scipy reads MATLAB v4 to v7.2; v7.3 files are HDF5
        raise ConfigError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which scipy cannot read. Re-save it in the v7 format: in MATLAB "
            f"or Octave, load it and run save('{path.name}', 'images', 'folds', 'labs_ex', 'labs_id', '-v7')."
        ) from err
    except Exception as err:  # scipy raises many types for a damaged file (ValueError, MatReadError, zlib.error)
        raise ConfigError(f"{path} is not a readable MATLAB file (truncated or corrupt?): {err!r}.") from err


def check_contents(path: Path, mat: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``images`` (N, 48, 48) uint8, ``folds`` (N, 5) in 0..3 and expressions (N,) 0..6 or -1, from the file."""

    def bad(what: str) -> ConfigError:
        return ConfigError(f"{path} is not TFD_48x48.mat: {what}. Use the original file from TFD's owners.")

    missing = [key for key in KEYS if key not in mat]
    if missing:
        present = sorted(k for k in mat if not k.startswith("__"))
        raise bad(f"it lacks {', '.join(missing)} (it has {', '.join(present) or 'none of them'})")
    images, folds, labs_ex = mat["images"], mat["folds"], mat["labs_ex"]
    if images.ndim != 3 or images.shape[1:] != (48, 48):
        raise bad(f"images must be (N, 48, 48), found {images.shape}")
    n = len(images)
    if folds.shape != (n, NUM_FOLDS) or not np.isin(folds, (UNLABELED, TRAIN, VALID, TEST)).all():
        raise bad(f"folds must be ({n}, {NUM_FOLDS}) with values 0..3, found {folds.shape} {np.unique(folds)[:10]}")
    if labs_ex.size != n:
        raise bad(f"labs_ex must have one expression per image ({n}), found {labs_ex.shape}")
    if images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255 or (images != np.round(images)).any():
            raise bad(f"images must be pixels 0..255, found {images.dtype} from {images.min()} to {images.max()}")
        images = images.astype(np.uint8)
    labs_ex = labs_ex.reshape(-1).astype(np.int64)
    expressions = np.where((labs_ex >= 1) & (labs_ex <= NUM_EXPRESSIONS), labs_ex - 1, -1)
    return images, folds, expressions
