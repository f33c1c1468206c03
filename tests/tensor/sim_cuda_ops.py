"""The op tables of ``test_ops_*.py`` on ``device="cuda"``, against PyTorch on the CPU.

Collected only by ``test_cuda_sim.py``, which runs this file in a subprocess with
``NUMBA_ENABLE_CUDASIM=1`` (numba picks the simulator when ``numba.cuda`` is first imported,
so the main test process cannot switch to it). On a machine with a GPU, run it directly:
``pytest -o python_files='sim_*.py' tests/tensor/sim_cuda_ops.py``.
"""

import pytest
from opcheck import run_row, same
from test_ops_elementwise import BINARY, UNARY, _mask
from test_ops_elementwise import TABLE as ELEMENTWISE
from test_ops_linalg import TABLE as LINALG
from test_ops_reductions import TABLE as REDUCTIONS
from test_ops_shape import TABLE as SHAPES

import nesy

pytestmark = pytest.mark.skipif(not nesy.cuda.is_available(), reason="no GPU, no simulator")

MAX_ELEMENTS = 200  # inputs per call: the simulator runs each GPU thread as a Python thread

# Rows whose expression makes a CPU tensor (a mask): here it is made on the inputs' device,
# as mixing devices is an error (tested in sim_cuda_device.py).
ON_DEVICE = [
    same("where", lambda m, a, b: m.where(m.tensor(_mask(a, b), device=a.device), a, b), BINARY),
    same("where_scalar_other",
         lambda m, a: m.where(m.tensor(_mask(a), device=a.device), a, 0.5), UNARY),
    same("where_scalar_input",
         lambda m, a: m.where(m.tensor(_mask(a), device=a.device), -1.5, a), UNARY),
]
_REPLACED = {op.name for op in ON_DEVICE}
ROWS = [op for op in ELEMENTWISE if op.name not in _REPLACED] + ON_DEVICE + REDUCTIONS + \
    SHAPES + LINALG


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ROWS, ids=repr)
def test_op_matches_torch_on_cuda(op, dtype):
    run_row(op, dtype, device="cuda", max_elements=MAX_ELEMENTS)
