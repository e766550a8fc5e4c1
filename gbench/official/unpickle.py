"""A restricted unpickler for network pickles (StyleGAN2-ADA ``.pkl``): it imports nothing and runs no code from the file.

A pickle names every callable it needs as (module, name) and ``pickle`` imports it (``find_class``); this unpickler
answers only from a fixed table, so nothing outside it can be reached:

- ``torch_utils.persistence._reconstruct_persistent_obj`` (NVlabs' persistent classes, which carry their module's
  *source code* and would ``exec`` it) becomes ``PersistentObject``: the class name and the pickled state only.
  The source text is kept as a string and never compiled.
- ``dnnlib.util.EasyDict`` becomes a plain dict subclass.
- Tensors: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` (parameters come back as plain tensors) and
  ``torch.storage._load_from_bytes``, whose bytes are a legacy ``torch.save`` of one storage, read here with
  ``torch.load(weights_only=True)`` -- the same handling torch gives a pickled tensor, without arbitrary globals.
- Plain containers and numbers: ``collections.OrderedDict``, ``builtins.set`` / ``frozenset``, numpy scalars, dtypes
  and arrays (``numpy.core.multiarray.scalar`` / ``_reconstruct`` with ``numpy.ndarray`` only, protocol 5's
  ``numpy.core.numeric._frombuffer`` of plain dtypes), and protocol 2's byte strings (``_codecs.encode(text, 'latin1')``).

Anything else (``os.system``, ``builtins.eval``, a class of the original code base, ...) is refused with one
``GBenchError`` naming it, before anything is called. Persistent ids (``torch.save``'s) are refused too.
"""

from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gbench.errors import GBenchError


class PersistentObject:
    """Inert stand-in for an NVlabs persistent-class instance: its class name and pickled ``__dict__``."""

    def __init__(self, class_name: str, state: dict, version: Any = None, has_source: bool = False):
        self.class_name, self.state, self.version, self.has_source = class_name, state, version, has_source

    def __repr__(self) -> str:
        return f"PersistentObject({self.class_name!r})"

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})

    def named_tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and buffers of this object and its submodules, named as ``nn.Module.state_dict`` would."""
        out: dict[str, torch.Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if isinstance(value, torch.Tensor):
                    out[prefix + name] = value
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, PersistentObject):
                out.update(child.named_tensors(f"{prefix}{name}."))
            elif child is not None:
                raise GBenchError(f"submodule {prefix}{name} is a {type(child).__name__}, not a persistent network object")
        return out


class InertDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access; only the dict part is kept)."""

    def __setstate__(self, state):  # EasyDict pickles an empty instance __dict__; nothing to restore
        pass


def _reconstruct_persistent(meta: dict) -> PersistentObject:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise GBenchError("a persistent object in the pickle has an unknown layout (expected NVlabs torch_utils.persistence meta)")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise GBenchError(f"persistent object {meta['class_name']} has no state dict")
    return PersistentObject(meta["class_name"], dict(state), meta.get("version"), has_source=isinstance(meta.get("module_src"), str))


def _storage_from_bytes(data: bytes):
    if not isinstance(data, (bytes, bytearray)):
        raise GBenchError("a pickled tensor storage is not a byte string")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise GBenchError("a pickled tensor does not point at a tensor storage")
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, tuple(size), tuple(stride), False, collections.OrderedDict())


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    if not isinstance(data, torch.Tensor):
        raise GBenchError("a pickled parameter holds no tensor")
    return data


def _numpy_reconstruct(cls, *args):
    if cls is not np.ndarray:
        raise GBenchError(f"numpy _reconstruct of {cls!r} refused (only numpy.ndarray)")
    return np.ndarray.__new__(np.ndarray, *args)


def _numpy_frombuffer(buffer, dtype, shape, order):
    """Protocol 5's numpy arrays: numpy's own ``_frombuffer`` (a copy of raw bytes into an array of plain dtype)."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise GBenchError("numpy _frombuffer with an object dtype refused")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order).copy()


def _latin1_encode(text, encoding="latin1"):
    """Protocol-2 pickles store byte strings as ``_codecs.encode(str, 'latin1')``; only that use is honoured."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise GBenchError("the pickle calls _codecs.encode with something other than a latin-1 byte string")
    return text.encode("latin1")


def _numpy_scalar():
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import scalar
    return scalar


_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent,
    ("dnnlib.util", "EasyDict"): InertDict,
    ("dnnlib", "EasyDict"): InertDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _latin1_encode,
    ("torch", "Size"): torch.Size,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar(),
    ("numpy._core.multiarray", "scalar"): _numpy_scalar(),
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` answers only from ``_ALLOWED`` (see the module docstring)."""

    def find_class(self, module: str, name: str):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise GBenchError(f"the pickle asks for {module}.{name}, which gbench refuses to load "
                              "(only tensors, plain containers and NVlabs persistent network objects are read; nothing is run)")
        return target

    def persistent_load(self, pid):
        raise GBenchError("the pickle uses persistent ids (a torch.save file?); read it as a torch file instead")


def read_pickle(path: Path) -> Any:
    """Unpickle ``path`` with ``RestrictedUnpickler``; errors are one ``GBenchError`` line."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except GBenchError:
        raise
    except Exception as exc:  # truncated or malformed pickles raise many types
        raise GBenchError(f"cannot unpickle {path}: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}") from None
