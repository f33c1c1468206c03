"""Re-run the tutorials from clean kernels and store their outputs in the notebooks.

    python tutorials/build.py                     every notebook, in order
    python tutorials/build.py 02 04_choosing      the notebooks whose names start so

Each notebook runs top to bottom in a fresh kernel on this interpreter, with this checkout's
nesy first on the path and this folder as the working directory (relative paths in a notebook
are relative to ``tutorials/``). It is written back atomically: a temporary file next to it,
then a rename. A failing cell leaves the notebook as it was and stops the build with the
cell's traceback. ``tests/test_tutorials.py`` runs the same ``execute`` without writing.

The notebooks themselves are the source: edit them in Jupyter (or any editor), then run this
to refresh what they show on the code host.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
CELL_TIMEOUT = 180  # seconds for one cell: generous for Numba's first compile on a cold cache


def notebooks(folder=FOLDER):
    """The numbered tutorials (``NN_name.ipynb``), in order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def _kernel_manager_class():
    import zmq
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class ThisPythonKernel(AsyncKernelManager):
        """ipykernel's own spec, on ``sys.executable``, whatever kernel specs are installed:
        a 'python3' spec of another environment would run another Python, with another nesy."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if self.has_trait("transport_encryption") and zmq.has("curve"):
                self.transport_encryption = "auto"  # CurveZMQ keys, as the spec supports them

        @property
        def kernel_spec(self):
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(**get_kernel_dict())
            return self._kernel_spec

    return ThisPythonKernel


def _kernel_env():
    """This environment with the checkout first on ``PYTHONPATH``: the notebooks run the nesy
    next to them, installed or not, as ``python -m pytest`` from the root does."""
    paths = [str(FOLDER.parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


def execute(path, timeout=CELL_TIMEOUT):
    """The notebook at ``path`` run from a clean kernel (an ``nbformat.NotebookNode``).

    Raises ``nbclient.exceptions.CellExecutionError`` when a cell fails.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=_kernel_manager_class(),
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,  # no timestamps in the stored notebooks: smaller diffs
    )
    client.execute(env=_kernel_env())
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = _merge_streams(cell.outputs)
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python",
    }
    nb.metadata.get("language_info", {}).pop("version", None)  # differs between machines
    return nb


def _merge_streams(outputs):
    """Consecutive stdout (or stderr) outputs as one: how printed text arrives in chunks
    depends on timing, and a rebuild should not change the stored notebook for that."""
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.output_type == "stream" and last is not None
                and last.output_type == "stream" and last.name == out.name):
            last.text += out.text
        else:
            merged.append(out)
    return merged


def write(nb, path):
    """Write ``nb`` to ``path`` atomically: a temporary file in the same folder, renamed."""
    import nbformat

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".ipynb.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.chmod(tmp, path.stat().st_mode if path.exists() else 0o644)  # mkstemp gives 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def build(path, timeout=CELL_TIMEOUT):
    """Run the notebook at ``path`` and store its outputs; returns the seconds it took."""
    start = time.perf_counter()
    nb = execute(path, timeout)
    seconds = time.perf_counter() - start
    write(nb, path)
    return seconds


def main(argv=None):
    prefixes = sys.argv[1:] if argv is None else argv
    paths = [p for p in notebooks() if not prefixes or p.name.startswith(tuple(prefixes))]
    if not paths:
        print(f"no tutorial matches {' '.join(prefixes)}", file=sys.stderr)
        return 2
    total = 0.0
    for path in paths:
        print(f"{path.name} ...", end=" ", flush=True)
        seconds = build(path)
        total += seconds
        size = path.stat().st_size / 1024
        print(f"{seconds:.1f} s, {size:.0f} KiB")
    print(f"{len(paths)} notebook{'s' * (len(paths) != 1)} in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
