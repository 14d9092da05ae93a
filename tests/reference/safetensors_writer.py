"""Writes and reads safetensors files by hand (the Debian image has no safetensors package).

Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
length, a JSON header {"__metadata__": {...}, name: {dtype, shape, data_offsets}},
padded with spaces to an 8-byte boundary, then the raw little-endian data.
"""
import json
import os
import struct
import sys

try:
    import torch
except ImportError as error:  # scripts/install-deps installs python3-torch
    sys.exit(f"FATAL: {sys.executable} cannot import torch ({error}); install python3-torch "
             "(scripts/install-deps). The PyTorch parity tests need it.")

_DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8")}
_NUMPY_DTYPES = {"F32": "<f4", "F64": "<f8"}


def save(path, tensors, metadata=None):
    """Writes {name: tensor} (float32/float64) and {str: str} metadata to `path`."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        dtype, numpy_dtype = _DTYPES[tensor.dtype]
        data = tensor.numpy().astype(numpy_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def load(path):
    """Reads a float32/float64 safetensors file: ({name: tensor}, {str: str} metadata)."""
    import numpy
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = blob[8 + length:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = numpy.frombuffer(data[begin:end], dtype=_NUMPY_DTYPES[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.copy()).reshape(entry["shape"])
    return tensors, metadata
