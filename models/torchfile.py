"""Reads torch state dicts without torch: a restricted unpickler that builds only dicts, tensors
and storages, for both of torch's file formats (the legacy pickle stream and the zip archive of
torch >= 1.6). Anything else in a file is refused, so a weights file cannot run code."""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np


class ModelError(Exception):
    """A problem with the weights that stops the build."""


_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64}


class _StorageRef:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    return _TensorRef(storage, offset, size, stride)


class _SafeUnpickler(pickle.Unpickler):
    """Builds only dicts, tensors and storages: any other global in the file is refused."""

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in _DTYPES:
            return name
        raise ModelError(f"the weights file refers to {module}.{name}, which a state dict never needs")

    def persistent_load(self, pid):
        # ("storage", kind, key, location, numel), plus a view entry in the legacy format.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise ModelError(f"unexpected persistent id {pid!r}")
        _, kind, key, _location, numel = pid[:5]
        return _StorageRef(kind, key, numel)


def load_state_dict(source, name="weights"):
    """name -> float32/int64 numpy array, from a .pth file's path or bytes (either format)."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        name = str(source)
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as err:
            raise ModelError(f"cannot read {source}: {err}") from err
    try:
        if data[:4] == b"PK\x03\x04":
            refs, blobs = _read_zip(data, name)
        else:
            refs, blobs = _read_legacy(data, name)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, struct.error, zipfile.BadZipFile, KeyError) as err:
        raise ModelError(f"cannot read {name}: {err}") from err
    if not isinstance(refs, dict) or not all(isinstance(r, _TensorRef) for r in refs.values()):
        raise ModelError(f"{name} holds something other than a state dict of tensors")
    state = {}
    for key, ref in refs.items():
        blob = blobs.get(ref.storage.key)
        if blob is None:
            raise ModelError(f"{name}: tensor {key} has no storage")
        itemsize = blob.dtype.itemsize
        end = ref.offset + sum((s - 1) * st for s, st in zip(ref.size, ref.stride)) + 1
        if ref.size and (ref.offset < 0 or end > blob.size):
            raise ModelError(f"tensor {key} reaches past its storage")
        view = np.lib.stride_tricks.as_strided(
            blob[ref.offset:],
            shape=ref.size,
            strides=tuple(st * itemsize for st in ref.stride),
            writeable=False,
        )
        state[key] = np.array(view)  # contiguous copy
    return state


def _storage_dtype(refs, key, name):
    kinds = {r.storage.kind for r in refs.values() if isinstance(r, _TensorRef) and r.storage.key == key}
    if len(kinds) != 1:
        raise ModelError(f"{name}: storage {key} belongs to no tensor")
    return np.dtype(_DTYPES[kinds.pop()])


def _read_legacy(data, name):
    """torch's legacy format: magic, protocol, system info, the pickle, then each storage."""
    f = io.BytesIO(data)
    magic = pickle.load(f)
    if magic != 0x1950A86A20F9469CFC6C:
        raise ModelError(f"{name} is not a torch file (magic {magic!r})")
    pickle.load(f)  # protocol version
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", False):
        raise ModelError(f"{name} was written big-endian")
    refs = _SafeUnpickler(f).load()
    keys = pickle.load(f)
    blobs = {}
    for key in keys:
        header = f.read(8)
        if len(header) != 8:
            raise ModelError(f"{name} ends inside storage {key}")
        (numel,) = struct.unpack("<q", header)
        dtype = _storage_dtype(refs, key, name)
        raw = f.read(numel * dtype.itemsize)
        if len(raw) != numel * dtype.itemsize:
            raise ModelError(f"{name} ends inside storage {key}")
        blobs[key] = np.frombuffer(raw, dtype=dtype)
    return refs, blobs


def _read_zip(data, name):
    """torch's zip format: <root>/data.pkl and one little-endian file per storage, <root>/data/<key>."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise ModelError(f"{name} is a zip archive but not a torch file (no single data.pkl)")
    root = pickles[0][: -len("data.pkl")]
    # Files without a byteorder record predate it and are little-endian.
    if root + "byteorder" in archive.namelist() and archive.read(root + "byteorder").strip() != b"little":
        raise ModelError(f"{name} was written big-endian")
    refs = _SafeUnpickler(io.BytesIO(archive.read(pickles[0]))).load()
    blobs = {}
    for key in {r.storage.key for r in refs.values() if isinstance(r, _TensorRef)}:
        raw = archive.read(f"{root}data/{key}")
        dtype = _storage_dtype(refs, key, name)
        if len(raw) % dtype.itemsize:
            raise ModelError(f"{name}: storage {key} is not a whole number of values")
        blobs[key] = np.frombuffer(raw, dtype=dtype)
    return refs, blobs
