"""One image file -> one uint8 tensor (C, R, R), the same way every time; and the cheap check of a file's header.

Every folder-based data path (:class:`~datamodules.image_folder.ImageFolderDataModule`, ``python -m
datamodules.prepare``) decodes through :func:`decode`, so a folder trained directly and the same folder prepared
for streaming hold the very same pixels. The steps, in order:

1. open with Pillow; a multi-frame file (GIF, TIFF) gives its first frame; a JPEG is decoded at the smallest
   1/2, 1/4 or 1/8 scale that keeps both sides >= the resolution (Pillow's ``draft``: the DCT does the first
   down-scaling, several times faster on photos);
2. the EXIF orientation tag is applied (``ImageOps.exif_transpose``), so a phone photo stands upright;
3. the mode is made canonical (:func:`canonical`): 16-bit grey (``I;16``, ``I``) is scaled by 1/257 to 8 bits
   (Pillow's own ``convert`` would clip it), transparency (RGBA, LA, a palette or a colour key with
   transparency) is composited on white, then everything becomes ``L`` (1 channel, ITU-R 601-2 luma from colour)
   or ``RGB`` (3 channels, grey replicated; CMYK, YCbCr, palettes by Pillow's conversions);
4. the shorter side is resized to the resolution (bicubic, antialiased) and the centre square cut
   (torchvision's ``Resize`` + ``CenterCrop``: :data:`transform`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor
from torchvision import transforms
from torchvision.datasets.folder import IMG_EXTENSIONS

#: the file name endings read as images, compared in lower case: torchvision's ImageFolder list plus GIF
EXTENSIONS: tuple[str, ...] = (*IMG_EXTENSIONS, ".gif")
#: bumped whenever :func:`decode` would give other pixels for the same file: it is part of every folder's content
#: digest (datamodules/folder_split.py), so cached statistics of the old pixels are not reused
DECODE_VERSION = 1
#: what transparent pixels are composited on
BACKGROUND = (255, 255, 255)
#: Pillow modes that hold colour (a palette is judged by its entries: :func:`is_colour`)
COLOUR_MODES = frozenset({"RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_ALPHA = frozenset({"RGBA", "LA", "La", "RGBa", "PA"})


class BadImageError(Exception):
    """A file that is not a usable image; the message says why in a few words."""


def is_image_name(name: str) -> bool:
    """Whether a file name ends in one of :data:`EXTENSIONS`, in any case."""
    return os.path.splitext(name)[1].lower() in EXTENSIONS


def transform(resolution: int) -> transforms.Compose:
    """Shorter side to ``resolution`` (bicubic, antialiased), centre crop, PIL -> uint8 (C, H, W)."""
    return transforms.Compose(
        [
            transforms.Resize(resolution, interpolation=transforms.InterpolationMode.BICUBIC, antialias=True),
            transforms.CenterCrop(resolution),
            transforms.PILToTensor(),
        ]
    )


def probe(path: str, min_size: int) -> tuple[str | None, bool]:
    """``(why the file is unusable or None, whether it holds colour)`` from its header only (no pixel decoded).

    Catches zero-byte, unreadable (permissions), non-image and too-small files; a truncated file passes (its
    header is intact) and fails later in :func:`decode`.
    """
    try:
        if os.stat(path).st_size == 0:
            return "empty file (0 bytes)", False
        with Image.open(path) as image:
            width, height = image.size
            colour = is_colour(image)
    except PermissionError:
        return "unreadable (permission denied)", False
    except FileNotFoundError:
        return "missing (gone, or a broken link)", False
    except UnidentifiedImageError:
        return "not an image Pillow can read", False
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:  # a damaged header
        return f"unreadable header ({_one_line(err)})", False
    if min(width, height) < min_size:
        return f"too small ({width}x{height} px, min_size {min_size})", colour
    return None, colour


def is_colour(image: Image.Image) -> bool:
    """Whether an opened image holds colour, from its mode (a palette: whether any entry has r, g, b unequal)."""
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [], dtype=np.uint8)
        rgb = palette[: len(palette) // 3 * 3].reshape(-1, 3)
        return bool((rgb != rgb[:, :1]).any())
    return image.mode in COLOUR_MODES


def canonical(image: Image.Image, channels: int) -> Image.Image:
    """``image`` as mode ``L`` (``channels`` 1) or ``RGB`` (3), by the rules of the module docstring."""
    if image.mode in _SIXTEEN_BIT:  # 0..65535 -> 0..255, rounded (convert("L") would clip at 255)
        values = np.asarray(image, dtype=np.int64)
        image = Image.fromarray(((values.clip(0, 65535) + 128) // 257).astype(np.uint8), "L")
    elif image.mode == "F":  # floats: taken as 0..255
        image = Image.fromarray(np.asarray(image).clip(0, 255).round().astype(np.uint8), "L")
    if image.mode in _ALPHA or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba)
    return image.convert("L" if channels == 1 else "RGB")


def decode(path: str, resolution: int, channels: int, to_tensor: transforms.Compose | None = None) -> Tensor:
    """The file as uint8 (channels, resolution, resolution); :class:`BadImageError` when it cannot be decoded.

    ``to_tensor``: :func:`transform` of ``resolution``, passed in by callers that decode many files.
    """
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft(None, (resolution, resolution))  # decode at a reduced scale, both sides >= resolution
            upright = ImageOps.exif_transpose(image)  # loads the pixels (the first frame of a GIF or TIFF)
            pixels = canonical(upright, channels)
        return (to_tensor or transform(resolution))(pixels)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as err:
        raise BadImageError(_one_line(err)) from None


def probe_all(root: str, paths: Sequence[str], min_size: int, threads: int | None = None) -> dict[int, str]:
    """``{index: why}`` for every unusable file among ``paths`` (relative to ``root``), by :func:`probe`.

    Threads, in chunks: reading headers waits on the disk (or a network file system) far more than it computes.
    """
    chunks = [range(start, min(start + 512, len(paths))) for start in range(0, len(paths), 512)]

    def check(chunk: range) -> dict[int, str]:
        found = {i: probe(os.path.join(root, paths[i]), min_size)[0] for i in chunk}
        return {i: why for i, why in found.items() if why is not None}

    bad: dict[int, str] = {}
    with ThreadPoolExecutor(threads) as pool:
        for result in pool.map(check, chunks):
            bad |= result
    return bad


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
