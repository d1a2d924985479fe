"""Fashion-MNIST (Xiao et al. 2017, arXiv 1708.07747) from torchvision's files, split like MNIST."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import ClassVar

import torchvision

from datamodules.mnist import RAW_FILES, MNISTDataModule
from gan_module.errors import ConfigError

#: where Debian's package ``dataset-fashion-mnist`` installs the four real files, gzipped
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
SOURCE = "https://github.com/zalandoresearch/fashion-mnist"


class FashionMNISTDataModule(MNISTDataModule):
    """Zalando's 70,000 28x28 grey clothing images in 10 classes, in MNIST's idx format: a drop-in for MNIST that
    GANs find harder. Split as MNIST: train 0..50000, validation 50000..60000 (``val_size``), the official
    10,000 test images.

    The files live in torchvision's ``<root>/FashionMNIST/raw/``. Those missing there but present in
    ``system_dir`` (``apt-get install dataset-fashion-mnist`` puts them in /usr/share/datasets/fashion-mnist)
    are copied in first; ``system_dir`` itself is only read.

    Args:
        root: the folder that holds ``FashionMNIST/raw/``.
        download: let torchvision download the files if they are missing (needs internet).
        system_dir: a folder with the four files (unpacked or ``.gz``) to copy from; ``null`` to not look.
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (batch_size, val_size, ...).
    """

    torchvision_class = torchvision.datasets.FashionMNIST
    source_hint = SOURCE
    checksums: ClassVar[dict[str, str]] = {}  # not checked (the Debian package's files are the originals)

    def __init__(
        self, root: str = "data", download: bool = False, system_dir: str | None = DEBIAN_DIR, **kwargs
    ) -> None:
        super().__init__(root=root, download=download, **kwargs)
        self.system_dir = None if system_dir is None else Path(system_dir)

    def _check_files(self) -> None:
        self._copy_from_system_dir()
        super()._check_files()

    def _copy_from_system_dir(self) -> None:
        """Copy every file the raw folder lacks (neither unpacked nor ``.gz``) from ``system_dir``, as it is there."""
        if self.system_dir is None or not self.system_dir.is_dir():
            return
        raw = self.raw_folder
        for name in RAW_FILES:
            if (raw / name).exists() or (raw / f"{name}.gz").exists():
                continue
            source = next((self.system_dir / n for n in (f"{name}.gz", name) if (self.system_dir / n).is_file()), None)
            if source is not None:
                _copy(source, raw / source.name)

    def _missing_files_message(self, missing: list[str]) -> str:
        elsewhere = f"nor does {self.system_dir}" if self.system_dir is not None else "and data.system_dir is null"
        return (
            f"{type(self).__name__}: {self.raw_folder} lacks {', '.join(missing)}, {elsewhere}. It needs all four "
            f"files {', '.join(RAW_FILES)} (unpacked or as .gz). Offline on Debian or Ubuntu, run "
            f"`apt-get install dataset-fashion-mnist` (it installs them in {DEBIAN_DIR}, the default "
            f"data.system_dir); or copy them from {SOURCE} into {self.raw_folder}; or set data.download: true on a "
            "machine with internet."
        )


def _copy(source: Path, target: Path) -> None:
    """Copy through a temporary name, so an interrupted copy never looks like a complete (truncated) file."""
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")  # one per process: ranks may race here
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, partial)  # contents only: the system folder's read-only modes stay behind
        partial.replace(target)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"Could not copy {source} to {target} ({err}); copy the file there yourself.") from err
