"""Generated kernel modules: written once to a cache folder, imported, kept per process.

A module's file name is a hash of its source (and the codegen version), so the same rule
under the same semantics always maps to the same file, and Numba's own disk cache
(``cache=True``, in the ``__pycache__`` beside it) makes later processes skip compilation.
The folder is ``$NESY_CACHE_DIR/kernels``, else ``~/.cache/nesy/kernels`` (or
``$XDG_CACHE_HOME/nesy/kernels``); when it cannot be written, a folder under the system's
temporary directory. Files are written atomically (``nesy.atomic.atomic_write``: a
temporary file, then a rename), so processes sharing the folder never import a half-written
module. CPU and GPU (``numba.cuda``) kernels of a rule are separate sources, so separate files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

from nesy.atomic import atomic_write

_MODULES = {}  # hash -> module: one import per source and process


def cache_dir():
    """The folder for generated kernel modules (created on first use)."""
    root = os.environ.get("NESY_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "nesy")
    for folder in (os.path.join(root, "kernels"),
                   os.path.join(tempfile.gettempdir(), f"nesy-kernels-{os.getuid()}")):
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise OSError("no writable folder for generated kernels: set NESY_CACHE_DIR")


def source_key(source):
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def load(source):
    """The module compiled from ``source`` (written to the cache folder on first use)."""
    key = source_key(source)
    module = _MODULES.get(key)
    if module is not None:
        return module
    path = os.path.join(cache_dir(), f"k_{key}.py")
    if not os.path.exists(path):
        with atomic_write(path) as f:
            f.write(source)
    name = f"nesy_kernels_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Numba's cache looks its functions up by module
    spec.loader.exec_module(module)
    _MODULES[key] = module
    return module
