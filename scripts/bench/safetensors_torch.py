"""Shared by the packages' PyTorch bench twins: read a float32 safetensors file (what our `saveSafetensors` writes)
into a dict of torch tensors, with no dependency beyond numpy and torch (the `safetensors` wheel is not a Debian
package). Import with `sys.path.insert(0, <repo>/scripts/bench)`.
"""
import json
import struct

import numpy as np
import torch


def read_safetensors(path):
    """{name: torch.float32 tensor} of a safetensors file; only F32 entries (raises on any other dtype)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise ValueError(f"read_safetensors: {name} has dtype {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"]).copy())
    return out
