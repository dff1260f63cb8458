"""Reference verdicts for the fuzz cross-check (fuzz/cross-check.ts): read each case file with the reference reader
and print, as one JSON list, either the error it raised or the arrays it returned, normalised to what our readers
return (C order, little endian, float16 / bfloat16 widened to float32, PNG samples scaled to [0, 1]).

- npy: numpy.load(file, allow_pickle=False)
- npz: numpy.load(file, allow_pickle=False), every member read (zipfile checks each member's CRC-32)
- png: PIL.Image.open(file).load() (palette images converted to RGB / RGBA as our reader expands them)
- safetensors (and .safetensors.gz through gzip.decompress): numpy.frombuffer after the checks of the Rust
  `safetensors` crate (safetensors/src/tensor.rs, SafeTensors::read_metadata and Metadata::validate): header length
  <= 100,000,000 and within the file, a UTF-8 JSON object starting with '{', a known dtype and a list of non-negative
  integer dims per tensor, tensors sorted by data_offsets must tile the data section from 0 with no gap or overlap,
  each (end - begin) must equal numel * itemsize, and the data section must end at the end of the file. The Python
  `safetensors` package (which wraps that crate) is not installed here, so these rules are restated, not imported.

Usage: python3 fuzz/cross_check.py manifest.json > verdicts.json
manifest: [{"id": ..., "kind": "npy" | "npz" | "png" | "safetensors", "file": path}, ...]
"""
import gzip
import hashlib
import json
import struct
import sys

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = 1 << 26  # the same pixel budget as our readers (larger: DecompressionBombError)


def digest(array):
    """dtype kind + itemsize as our readers report it, shape, and SHA-256 of C-order little-endian bytes."""
    a = np.ascontiguousarray(array)
    kind = a.dtype.kind + str(a.dtype.itemsize)
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:
        a = a.astype("<f4")
    elif a.dtype.kind == "b":
        a = a.view("u1")
    else:
        a = a.astype(a.dtype.newbyteorder("<"))
    return {"dtype": kind, "shape": list(array.shape), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}


def read_npy(file):
    return {"": digest(np.load(file, allow_pickle=False))}


def read_npz(file):
    out = {}
    with np.load(file, allow_pickle=False) as z:
        for name in z.files:
            value = z[name]
            if not isinstance(value, np.ndarray):
                raise ValueError("member %r is not an array" % name)
            out[name] = digest(value)
    return out


def read_png(file):
    with Image.open(file) as im:
        im.load()
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        a = np.asarray(im)
        if im.mode in ("I", "I;16", "I;16B"):
            scale = 65535.0
        elif im.mode == "1":
            scale = 1.0
        elif im.mode in ("L", "LA", "RGB", "RGBA"):
            scale = 255.0
        else:
            raise ValueError("mode %s not compared" % im.mode)
        values = (a.astype(np.float64) / scale).reshape(im.size[1], im.size[0], -1)
        return {"png": {"mode": im.mode, "width": im.size[0], "height": im.size[1], "channels": int(values.shape[2]),
                        "values": values.ravel().tolist() if values.size <= 1 << 16 else None}}


SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "U64": "<u8", "I32": "<i4",
                      "U32": "<u4", "I16": "<i2", "U16": "<u2", "I8": "i1", "U8": "u1", "BOOL": "?",
                      "F8_E5M2": "u1", "F8_E4M3": "u1"}


def read_safetensors(file):
    with open(file, "rb") as f:
        buffer = f.read()
    if file.endswith(".gz"):
        buffer = gzip.decompress(buffer)
    if len(buffer) < 8:
        raise ValueError("HeaderTooSmall")
    (n,) = struct.unpack("<Q", buffer[:8])
    if n > 100_000_000:
        raise ValueError("HeaderTooLarge")
    if 8 + n > len(buffer):
        raise ValueError("InvalidHeaderLength")
    text = buffer[8:8 + n].decode("utf-8")  # InvalidHeader
    if not text.startswith("{"):
        raise ValueError("InvalidHeaderStart")
    header = json.loads(text)  # InvalidHeaderDeserialization
    if not isinstance(header, dict):
        raise ValueError("InvalidHeaderDeserialization")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())):
        raise ValueError("InvalidHeaderDeserialization (__metadata__)")
    tensors = []
    for name, info in header.items():
        # serde ignores unknown fields of TensorInfo; the three known ones are required.
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise ValueError("InvalidHeaderDeserialization (%s)" % name)
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in SAFETENSORS_DTYPES:
            raise ValueError("unknown dtype")
        if not isinstance(shape, list) or not all(type(d) is int and 0 <= d < 1 << 64 for d in shape):
            raise ValueError("bad shape")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int and 0 <= o < 1 << 64 for o in offsets):
            raise ValueError("bad data_offsets")
        tensors.append((name, dtype, shape, offsets))
    tensors.sort(key=lambda t: tuple(t[3]))
    start = 0
    for name, dtype, shape, (begin, end) in tensors:
        if begin != start or end < begin:
            raise ValueError("InvalidOffset(%s)" % name)
        start = end
        numel = 1
        for d in shape:
            numel *= d
        if numel * np.dtype(SAFETENSORS_DTYPES[dtype]).itemsize != end - begin:
            raise ValueError("TensorInvalidInfo")
    if start + 8 + n != len(buffer):
        raise ValueError("MetadataIncompleteBuffer")
    out = {}
    data = buffer[8 + n:]
    for name, dtype, shape, (begin, end) in tensors:
        a = np.frombuffer(data[begin:end], dtype=SAFETENSORS_DTYPES[dtype]).reshape(shape)
        if dtype == "BF16":
            a = (a.astype("<u4") << 16).view("<f4")
        d = digest(a)
        d["dtype"] = dtype
        out[name] = d
    return out


READERS = {"npy": read_npy, "npz": read_npz, "png": read_png, "safetensors": read_safetensors}


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    verdicts = []
    for case in manifest:
        try:
            verdicts.append({"id": case["id"], "value": READERS[case["kind"]](case["file"])})
        except Exception as error:  # noqa: BLE001 — every exception is the reference's refusal
            verdicts.append({"id": case["id"], "error": "%s: %s" % (type(error).__name__, str(error)[:200])})
    json.dump(verdicts, sys.stdout)


if __name__ == "__main__":
    main()
