"""numpy arrays to and from the wire's raw pixels (RawImage: rows, interleaved channels, 16-bit
little-endian)."""

from __future__ import annotations

import numpy as np

from ern.v1 import denoise_pb2


def to_raw(image: np.ndarray) -> denoise_pb2.RawImage:
    """An H x W (gray) or H x W x C (C = 1, 3 or 4) uint8 or uint16 array as a RawImage."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image: expected a numpy array or encoded bytes, got {type(image).__name__}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image: dtype must be uint8 or uint16, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image: shape must be H x W or H x W x C with C in 1, 3, 4; got {image.shape}")
    pixels = np.ascontiguousarray(image, dtype=image.dtype.newbyteorder("<"))
    return denoise_pb2.RawImage(
        width=image.shape[1],
        height=image.shape[0],
        channels=image.shape[2],
        bit_depth=8 * image.dtype.itemsize,
        pixels=pixels.tobytes(),
    )


def from_raw(raw: denoise_pb2.RawImage, like_ndim: int) -> np.ndarray:
    """The array a RawImage holds, with as many dimensions as the request's array had."""
    dtype = np.dtype("<u2") if raw.bit_depth == 16 else np.dtype(np.uint8)
    image = np.frombuffer(raw.pixels, dtype=dtype).reshape(raw.height, raw.width, raw.channels)
    image = image.astype(dtype.newbyteorder("="), copy=True)
    return image[:, :, 0] if like_ndim == 2 else image
