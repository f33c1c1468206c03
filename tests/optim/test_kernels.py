"""The fused Numba kernels equal their interpreted ``.py_func`` and load lazily."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

from nesy.optim import kernels


def arrays(dtype, n=37, seed=0):
    rng = np.random.default_rng(seed)
    param, grad, first, second = (rng.standard_normal(n).astype(dtype) for _ in range(4))
    return param, grad, first, np.abs(second)


def both_ways(kernel, inputs, *scalars):
    """Run the compiled kernel and its .py_func on copies; return both sets of arrays."""
    compiled = [a.copy() for a in inputs]
    interpreted = [a.copy() for a in inputs]
    kernel(*compiled, *scalars)
    kernel.py_func(*interpreted, *scalars)
    return compiled, interpreted


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum,nesterov,first,maximize", [
    (0.0, False, False, False), (0.9, False, True, False), (0.9, False, False, True),
    (0.9, True, False, False),
])
def test_sgd_kernel_equals_py_func(dtype, momentum, nesterov, first, maximize):
    param, grad, buf, _ = arrays(dtype)
    compiled, interpreted = both_ways(kernels.sgd_step, [param, grad, buf], 0.1, 0.01,
                                      momentum, 0.0 if nesterov else 0.3, nesterov, maximize,
                                      first)
    for a, b in zip(compiled, interpreted):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(compiled[0], param)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled,amsgrad,maximize,wd",
                         [c + (w,) for c in itertools.product([False, True], repeat=3)
                          for w in (0.0, 0.1)])
def test_adam_kernel_equals_py_func(dtype, decoupled, amsgrad, maximize, wd):
    param, grad, m, v = arrays(dtype, seed=1)
    v_max = v * 1.5
    step = 3
    compiled, interpreted = both_ways(
        kernels.adam_step, [param, grad, m, v, v_max], 0.01, 0.9, 0.999, 1e-8, wd, decoupled,
        amsgrad, maximize, 1 - 0.9**step, np.sqrt(1 - 0.999**step),
    )
    for a, b in zip(compiled, interpreted):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(compiled[0], param)


def test_numba_is_not_imported_by_nesy_nn_or_optim_until_a_kernel_runs():
    code = (
        "import sys, nesy, nesy.nn, nesy.optim, nesy.nn.functional as F\n"
        "net = nesy.nn.MLP([4, 8, 2])\n"
        "opt = nesy.optim.Adam(net.parameters())\n"
        "F.cross_entropy(net(nesy.ones(3, 4)), nesy.tensor([0, 1, 0])).backward()\n"
        "opt.step()\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
        "nesy.optim.Adam(net.parameters(), fused=True).step()\n"
        "assert 'numba' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
