"""Reads and writes named tensors in the safetensors layout (8-byte little-endian header length,
JSON header, raw little-endian data), the weight format of ERN model directories."""

import json
import os
import struct

import numpy as np

_DTYPES = {
    "F32": np.float32,
    "F64": np.float64,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def write(path, tensors):
    """tensors: iterable of (name, numpy array)."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors:
        array = np.ascontiguousarray(array)
        if array.dtype not in _NAMES:
            raise ValueError(f"{name}: unsupported dtype {array.dtype}")
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": _NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)
    os.replace(tmp, path)


def read(path):
    """Returns a dict name -> numpy array, in file order."""
    with open(path, "rb") as f:
        content = f.read()
    (size,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8 : 8 + size])
    base = 8 + size
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(content[base + begin : base + end], dtype=dtype).reshape(
            entry["shape"]
        )
    return out
