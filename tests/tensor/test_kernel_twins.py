"""The Numba kernels agree with their NumPy twins, element by element, at special values.

Every elementwise op and fused backward exists twice (``backends/elementwise_numpy.py`` for
small arrays, a kernel compiled from ``scalar.py`` for large ones). Here both run on a grid
of awkward inputs: signed zeros, the softplus threshold, large values, infinities and NaN.
"""

import itertools
import warnings

import numpy as np
import pytest

import nesy
from nesy.tensor.backends import get_backend
from nesy.tensor.backends.cpu import kernel_threshold
from nesy.tensor.backends.elementwise_numpy import TABLE

SPECIAL = np.array([-np.inf, -30.0, -20.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 19.9, 20.5,
                    30.0, np.inf, np.nan])


def _grid(arity, first_is_mask, values=SPECIAL):
    """Every combination of special values over ``arity`` operands, as flat arrays."""
    columns = [values] * arity
    combos = np.array(list(itertools.product(*columns))).T
    arrays = [np.ascontiguousarray(c) for c in combos]
    if first_is_mask:
        arrays[0] = arrays[0] > 0
    return arrays


def _both_paths(name, xs):
    be = get_backend("cpu")
    with kernel_threshold(1 << 40):
        expected = be.map(name, *xs)
    with kernel_threshold(0):
        got = be.map(name, *xs)
    return got, expected


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(TABLE))
def test_kernel_matches_numpy_twin(name, dtype):
    _, _, arity = TABLE[name]
    values = SPECIAL
    if name.startswith("pow"):
        # 30^29 overflows float32 on the NumPy path, but not in the kernel, whose b - 1.0 is
        # float64; the two then differ (NaN vs 0) where the incoming gradient is 0 or inf
        values = SPECIAL[np.abs(SPECIAL) != 30.0]
    xs = _grid(arity, first_is_mask=name == "where", values=values)
    xs = [x if x.dtype == np.bool_ else x.astype(dtype) for x in xs]
    with np.errstate(all="ignore"):  # inf - inf and friends: see the xfail below
        got, expected = _both_paths(name, xs)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=2e-6 if dtype == "float32" else 1e-14,
                               err_msg=name)


@pytest.mark.xfail(strict=True, raises=RuntimeWarning, reason=(
    "add/sub/mul and the fused sigmoid/tanh grads run without np.errstate on the NumPy path "
    "(it costs ~1 us per op), so inf - inf and inf * 0 warn where PyTorch is silent"))
@pytest.mark.parametrize("name, args", [("sub", (np.inf, np.inf)), ("mul", (np.inf, 0.0))])
def test_numpy_path_is_silent_on_inf_arithmetic(name, args):
    xs = [np.array([a]) for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, expected = _both_paths(name, xs)
    assert np.isnan(got).all() and np.isnan(expected).all()


@pytest.mark.parametrize("name", ["sum", "amax", "amin"])
@pytest.mark.parametrize("axes", [(0,), (1,), (0, 1), (1, 2), (0, 1, 2)])
def test_reduction_kernels_match_numpy(name, axes):
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    be = get_backend("cpu")
    with kernel_threshold(1 << 40):
        expected = getattr(be, name)(x, axes, keepdims=False)
    with kernel_threshold(0):
        got = getattr(be, name)(x, axes, keepdims=False)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize("shape, axes", [((0, 3), (0,)), ((3, 0), (1,)), ((0, 3), (1,)),
                                         ((2, 0, 3), (1,)), ((0,), (0,))])
def test_sum_kernel_over_empty_axes_gives_zeros(shape, axes):
    x = np.ones(shape)
    with kernel_threshold(0):
        got = get_backend("cpu").sum(x, axes, keepdims=True)
    np.testing.assert_array_equal(got, np.sum(x, axis=axes, keepdims=True))


def test_path_fixture_routes_small_arrays_to_the_kernels(path):
    be = get_backend("cpu")
    be._kernels.pop("neg", None)
    -nesy.ones(3)
    assert ("neg" in be._kernels) == (path == "numba")
