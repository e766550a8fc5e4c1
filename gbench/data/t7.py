"""A strict reader of Torch7's binary serialization (``torch.save`` in Lua Torch on 64-bit little-endian
machines), enough for data files such as the authors' caption files of Reed et al. 2016.

Supported: nil, numbers, booleans, strings, tables, and Byte/Char/Short/Int/Long/Float/Double tensors and
storages (torch7 ``File.lua`` ``writeObject``; ``generic/Tensor.c`` and ``generic/Storage.c`` ``write``). Strings are
decoded as UTF-8 (undecodable bytes replaced), tables become dicts, tensors become numpy arrays that own their
memory. Lua functions and other Torch classes (``nn`` modules, ...) are refused: the reader never runs anything
from the file.

Why not the ``torchfile`` package: version 0.1.0 (2017, the latest) reads a storage with ``np.fromfile``, which
returns fewer elements on a truncated file without complaint, and then builds the tensor with ``as_strided``
without checking it fits, so a truncated file yields arrays read from outside the buffer. Here every length,
and every tensor view against its storage, is checked, and the error names the problem.

Layout (all little-endian): an object is an int32 type id; 0 nil; 1 number (float64); 5 boolean (int32);
2 string (int32 length + bytes); 3 table, 4 torch object, 6/7/8 function: an int32 reference index (an index
seen before refers to the same object), then for a table an int32 entry count and key/value objects, for a torch
object a version string ``"V <n>"`` and the class name (or the class name alone in version-0 files) and the
class's own data. A tensor writes int32 nDimension, int64 sizes, int64 strides, an int64 1-based storage offset
and its storage object (nil when empty); a storage writes int64 element count and the raw elements.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

NIL, NUMBER, STRING, TABLE, TORCH, BOOLEAN, FUNCTION, LEGACY_RECUR_FUNCTION, RECUR_FUNCTION = range(9)
DTYPES = {"Byte": np.uint8, "Char": np.int8, "Short": np.int16, "Int": np.int32, "Long": np.int64, "Float": np.float32, "Double": np.float64}
MAX_DEPTH = 64


class T7Error(ValueError):
    """The file is not a Torch7 binary file this reader supports (or is truncated)."""


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos, self.objects = data, 0, {}

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise T7Error(f"truncated: needs {n} bytes at offset {self.pos}, the file has {len(self.data)}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def string(self) -> bytes:
        (n,) = self.unpack("i")
        return self.take(n)

    def obj(self, depth: int = 0):
        if depth > MAX_DEPTH:
            raise T7Error(f"objects nested deeper than {MAX_DEPTH}")
        (kind,) = self.unpack("i")
        if kind == NIL:
            return None
        if kind == NUMBER:
            return self.unpack("d")[0]
        if kind == BOOLEAN:
            return self.unpack("i")[0] == 1
        if kind == STRING:
            return self.string().decode("utf-8", "replace")
        if kind in (FUNCTION, LEGACY_RECUR_FUNCTION, RECUR_FUNCTION):
            raise T7Error("the file holds a Lua function; this reader does not load code")
        if kind not in (TABLE, TORCH):
            raise T7Error(f"unknown object type {kind} at offset {self.pos - 4}")
        (index,) = self.unpack("i")
        if index in self.objects:
            return self.objects[index]
        if kind == TABLE:
            (count,) = self.unpack("i")
            table: dict = {}
            self.objects[index] = table
            for _ in range(count):
                key = self.obj(depth + 1)
                if isinstance(key, (dict, np.ndarray)) or key is None:
                    raise T7Error("a table key is a table, tensor or nil; only strings, numbers and booleans are supported")
                table[key] = self.obj(depth + 1)
            return table
        version = self.string()
        class_name = self.string() if version.startswith(b"V ") else version
        value = self.torch_object(class_name.decode("ascii", "replace"), depth)
        self.objects[index] = value
        return value

    def torch_object(self, class_name: str, depth: int) -> np.ndarray:
        kind = class_name.removeprefix("torch.")
        for name, dtype in DTYPES.items():
            if kind == f"{name}Storage":
                (n,) = self.unpack("q")
                item = np.dtype(dtype).itemsize
                if n < 0:
                    raise T7Error(f"{class_name} with negative size {n}")
                return np.frombuffer(self.take(n * item), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
            if kind == f"{name}Tensor":
                (ndim,) = self.unpack("i")
                if not 0 <= ndim <= 32:
                    raise T7Error(f"{class_name} with {ndim} dimensions")
                sizes, strides = self.unpack(f"{ndim}q"), self.unpack(f"{ndim}q")
                (offset,) = self.unpack("q")
                storage = self.obj(depth + 1)
                return _view(class_name, storage, dtype, sizes, strides, offset - 1)
        raise T7Error(f"unsupported Torch class {class_name!r} (only tensors and storages of plain numbers are read)")


def _view(class_name: str, storage, dtype, sizes, strides, offset: int) -> np.ndarray:
    """The tensor as a new array, after checking that every element it addresses lies inside the storage."""
    if sizes and (min(sizes) < 0 or min(strides) < 0):
        raise T7Error(f"{class_name} with a negative size or stride")
    if not sizes or 0 in sizes:
        return np.zeros(sizes, dtype=dtype)
    if not isinstance(storage, np.ndarray) or storage.dtype != dtype:
        raise T7Error(f"{class_name} without a matching storage")
    if offset < 0:
        raise T7Error(f"{class_name} with storage offset {offset + 1} (1-based)")
    last = offset + sum((n - 1) * s for n, s in zip(sizes, strides))
    if last >= len(storage):
        raise T7Error(f"{class_name} of size {tuple(sizes)} addresses element {last} of a storage of {len(storage)}")
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=sizes, strides=[s * item for s in strides], writeable=False)
    return np.array(view)


def load_t7(path: Path | str):
    """The object stored in a Torch7 binary file. Raises T7Error (a ValueError) on anything unsupported or
    inconsistent, and OSError when the file cannot be read."""
    reader = _Reader(Path(path).read_bytes())
    value = reader.obj()
    if reader.pos != len(reader.data):
        raise T7Error(f"{len(reader.data) - reader.pos} bytes left after the first object (not a single torch.save file?)")
    return value
