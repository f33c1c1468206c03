"""The CUDA backend's tests (``sim_cuda_*.py``), run under numba's CUDA simulator.

numba chooses the simulator when ``numba.cuda`` is first imported, which this process has
done (without it); so each file runs in a subprocess with ``NUMBA_ENABLE_CUDASIM=1``. The
simulator runs every GPU thread as a Python thread: the files keep inputs small and launches
to one block, and together take about two minutes on two cores.
"""

import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).parent
FILES = sorted(p.name for p in HERE.glob("sim_cuda_*.py"))


def test_the_simulator_files_are_found():
    assert {"sim_cuda_ops.py", "sim_cuda_device.py", "sim_cuda_logic.py",
            "sim_cuda_compiled.py"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_cuda_backend_under_the_simulator(name):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    command = [sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider",
               "-o", "python_files=sim_*.py", name]
    proc = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True,
                          timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary, summary
