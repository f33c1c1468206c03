"""``nesy.save`` / ``nesy.load``: nested dicts of tensors and plain values in one ``.npz``.

Never pickle: arrays are stored as ``.npy`` members of an ``np.savez`` archive and everything
else (the nesting, numbers, strings, which member is which) as one JSON manifest, stored as
a string array under ``"__nesy__"``. Loading uses ``allow_pickle=False``, so a file cannot run
code. Layout of the manifest::

    {"format": "nesy", "version": 1, "tree": NODE}
    NODE = {"dict": [[KEY, NODE], ...]}      KEY = {"str": "w"} or {"int": 0}
         | {"list": [NODE, ...]} | {"tuple": [NODE, ...]}
         | {"tensor": "a3", "requires_grad": false}   (archive member a3)
         | {"ndarray": "a4"} | {"npscalar": "a5"}  (loaded as tensors / NumPy scalars)
         | {"value": number, string, bool or null}

Dict keys are strings or ints, and each key records which, so the integer parameter
indices of an optimizer's ``state_dict`` come back as ints (JSON alone would make them
strings). Floats keep their exact value (JSON writes the shortest repr; NaN and infinities
included). Arrays come back as tensors.

>>> import nesy, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> nesy.save({"w": nesy.ones(2), "step": 3, "ids": {0: "a"}}, path)
>>> loaded = nesy.load(path)
>>> loaded["w"].tolist(), loaded["step"], loaded["ids"]
([1.0, 1.0], 3, {0: 'a'})
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .atomic import atomic_write
from .tensor import Tensor, from_numpy

FORMAT = "nesy"
FORMAT_VERSION = 1
MANIFEST = "__nesy__"


class _Encoder:
    """Walks an object, collecting arrays and building the JSON-able tree."""

    def __init__(self):
        self.arrays = {}

    def _add(self, array, path):
        if array.dtype.kind in "OV":
            raise TypeError(
                f"nesy.save: the array at {_show(path)} has dtype {array.dtype}, which needs "
                "pickle; store numbers, booleans or strings"
            )
        name = f"a{len(self.arrays)}"
        self.arrays[name] = array
        return name

    def node(self, obj, path):
        if isinstance(obj, Tensor):
            data = np.ascontiguousarray(obj.detach().numpy())
            return {"tensor": self._add(data, path), "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._add(obj, path)}
        if isinstance(obj, np.generic):
            return {"npscalar": self._add(np.asarray(obj), path)}
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return {"value": obj}
        if isinstance(obj, dict):
            return {"dict": [[_key(k, path), self.node(v, path + (k,))] for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [self.node(v, path + (i,)) for i, v in enumerate(obj)]}
        raise TypeError(
            f"nesy.save: unsupported value of type {type(obj).__name__} at {_show(path)}; "
            "supported are dicts (str or int keys), lists, tuples, tensors, NumPy arrays, "
            "numbers, booleans, strings and None"
        )


def _key(k, path):
    if isinstance(k, str):
        return {"str": k}
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return {"int": int(k)}
    raise TypeError(
        f"nesy.save: dict key {k!r} of type {type(k).__name__} at {_show(path)}; keys must be "
        "strings or ints"
    )


def _show(path):
    return "the top level" if not path else "key path " + "/".join(str(p) for p in path)


def save(obj, f):
    """Write ``obj`` (a dict, list or tuple, possibly nested) to the path or file ``f``.

    A path is written atomically: into a temporary file in the same directory, which then
    replaces ``f`` in one step, so a failed save leaves any earlier file untouched.
    """
    encoder = _Encoder()
    tree = encoder.node(obj, ())  # unsupported values fail here, before anything is written
    manifest = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "tree": tree})
    arrays = dict(encoder.arrays, **{MANIFEST: np.array(manifest)})
    if hasattr(f, "write"):
        np.savez(f, **arrays)
        return
    with atomic_write(f, "wb") as handle:
        np.savez(handle, **arrays)


def load(f):
    """Read what :func:`save` wrote; arrays come back as tensors."""
    name = getattr(f, "name", f) if hasattr(f, "read") else os.fspath(f)
    try:
        archive = np.load(f, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"nesy.load: {name} is not a nesy save file ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile) or MANIFEST not in archive.files:
        raise ValueError(
            f"nesy.load: {name} is not a nesy save file (no {MANIFEST!r} manifest; "
            "write files with nesy.save)"
        )
    with archive:
        meta = _read_manifest(archive, name)
        return _decode(meta["tree"], archive)


def _read_manifest(archive, name):
    try:
        meta = json.loads(str(archive[MANIFEST]))
    except (ValueError, TypeError) as e:
        raise ValueError(f"nesy.load: {name} has a corrupt manifest ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"nesy.load: {name} is not a nesy save file (unknown manifest)")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"nesy.load: {name} has format version {version}; this nesy reads versions up to "
            f"{FORMAT_VERSION} (upgrade nesy)"
        )
    return meta


def _decode(node, archive):
    if "value" in node:
        return node["value"]
    if "dict" in node:
        return {_decode_key(k): _decode(v, archive) for k, v in node["dict"]}
    if "list" in node:
        return [_decode(v, archive) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, archive) for v in node["tuple"])
    if "tensor" in node:
        return from_numpy(archive[node["tensor"]]).requires_grad_(node["requires_grad"])
    if "ndarray" in node:
        return from_numpy(archive[node["ndarray"]])
    if "npscalar" in node:
        return archive[node["npscalar"]][()]
    raise ValueError(f"nesy.load: unknown entry {sorted(node)} in the manifest")


def _decode_key(key):
    return int(key["int"]) if "int" in key else str(key["str"])
