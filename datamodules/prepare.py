"""``python -m datamodules.prepare FOLDER OUT [--resolution 64 --channels 3 --labels folders ...]``: a folder of
images written as LitData optimized chunks, for :class:`~datamodules.streaming.StreamingImageDataModule`.

The images are those :class:`~datamodules.image_folder.ImageFolderDataModule` would train on with the same
options (same checks, same split, same labels, same decoding: :func:`~datamodules.image_files.decode`), already
at their resolution, so training reads uint8 pixels and decodes nothing. ``OUT`` gets:

- ``train/``, ``val/``, ``test/``: one LitData dataset each (``litdata.optimize``: ``index.json`` and
  ``chunk-*.bin``), every item ``{"image": uint8 (C, R, R), "label": int, "path": str}`` in the folder's order;
- ``dataset.json``: image shape, classes, counts, each split's class counts and content digest
  (:func:`~datamodules.folder_split.files_digest`: what the folder module reports, so the evaluation caches of
  the folder are the stream's too): what the streaming module reads before any chunk;
- ``data_split.json`` and ``data_skipped.txt``: the split record, as a run writes it
  (:mod:`datamodules.folder_split`). A file that passes the header check but fails to decode here is left out
  and recorded.

``OUT`` is a local folder; to train from object storage, copy it there (``aws s3 sync OUT s3://bucket/name``) and
give that URL as ``input_dir``. Decoding runs in ``--num-workers`` processes (LitData's), each on a contiguous
slice of the split, so the stored order is the folder's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("LITDATA_DISABLE_VERSION_CHECK", "1")  # litdata asks PyPI for a newer version otherwise

import numpy as np

from datamodules.folder_split import SPLITS
from datamodules.image_files import BadImageError
from datamodules.image_folder import ImageFileSplit, ImageFolderDataModule, default_workers
from gan_module.errors import ConfigError

#: what the streaming module reads first
DATASET_FILE = "dataset.json"
#: bumped when the items' layout or dataset.json's keys change (2: class counts and content digests)
FORMAT = 2


class EncodeItem:
    """``optimize``'s function: item ``index`` of a split decoded, or ``None`` (left out) with the failure
    written to ``failures/<pid>.txt`` for the parent to record. Picklable: LitData's workers get a copy."""

    def __init__(self, split: ImageFileSplit, failures: str) -> None:
        self.split, self.failures = split, failures

    def __call__(self, index: int) -> dict | None:
        try:
            image = self.split.decode(index)
        except BadImageError as err:
            with open(os.path.join(self.failures, f"{os.getpid()}.txt"), "a") as file:
                file.write(f"{self.split.files[index]}\tfailed to decode ({err})\n")
            return None
        return {"image": image.numpy(), "label": int(self.split.labels[index]), "path": self.split.files[index]}


def prepare(
    folder: str, out: str, num_workers: int | None = None, chunk_bytes: str = "64MB", **options
) -> dict[str, int]:
    """Write ``folder`` into ``out`` (module docstring); ``options`` are ImageFolderDataModule's. Returns the
    number of images written per split."""
    from litdata import optimize

    data = ImageFolderDataModule(root=folder, record_split=False, num_workers=0, batch_size=1, **options)
    data.setup()
    record, out_path = data.record, Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in SPLITS:
        split = data.file_split(name)
        with tempfile.TemporaryDirectory() as failures:
            if len(split):
                optimize(
                    fn=EncodeItem(split, failures),
                    inputs=list(range(len(split))),
                    output_dir=str(out_path / name),
                    chunk_bytes=chunk_bytes,
                    num_workers=min(num_workers or default_workers(), len(split)),
                    keep_data_ordered=True,  # each worker a contiguous slice: the stored order is the folder's
                    reorder_files=False,
                    mode="overwrite",
                    verbose=False,
                    start_method="fork",  # the workers share the imports already made (spawn re-imports torch)
                )
            failed = [
                line.split("\t", 1) for f in sorted(Path(failures).iterdir()) for line in f.read_text().splitlines()
            ]
        if failed:
            gone = {path for path, _ in failed}
            kept = [i for i, path in enumerate(split.files) if path not in gone]
            record.splits[name].files = split.files.take(kept)
            record.splits[name].labels = split.labels[kept]
            record.skipped += [(path, why) for path, why in failed]
        counts[name] = len(record.splits[name])
    splits = record.splits
    metadata = {
        "format": FORMAT,
        "image_shape": list(data.image_shape),
        "num_classes": data.num_classes,
        "classes": data.classes,
        "counts": counts,
        "class_counts": {
            name: np.bincount(split.labels[split.labels >= 0], minlength=data.num_classes).tolist()
            for name, split in splits.items()
        },
        "digests": {name: record.digest(name) for name in splits},  # of the files written (failures left out)
        "source": str(data.root),
    }
    (out_path / DATASET_FILE).write_text(json.dumps(metadata, indent=1) + "\n")
    record.save(out_path)
    print(record.summary().replace("data:", f"prepared {out_path} from", 1))
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m datamodules.prepare", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="the folder of images (as ImageFolderDataModule's root)")
    parser.add_argument("out", help="the output folder (created)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=None, help="default: from the images")
    parser.add_argument("--labels", choices=("none", "folders"), default="none")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--val-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--split-file", default=None, help="a data_split.json to reuse (or write)")
    parser.add_argument("--min-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=None, help="decoding processes (default: cores - 1)")
    parser.add_argument("--chunk-bytes", default="64MB", help="size of each LitData chunk")
    args = vars(parser.parse_args(argv))
    folder, out = args.pop("folder"), args.pop("out")
    try:
        prepare(folder, out, **args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
