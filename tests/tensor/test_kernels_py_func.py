"""Every Numba kernel equals its interpreted twin, and every NumPy form its scalar twin.

The compiled kernels are built from templates in ``nesy.tensor.kernels`` bound to scalar
functions from ``nesy.tensor.scalar``. Here each template is instantiated a second time with
the plain Python scalar function, so the interpreted run shares no compiled code with the
kernel under test.
"""


import numpy as np
import pytest

from nesy.tensor import kernels, scalar
from nesy.tensor.backends.cpu import CpuBackend
from nesy.tensor.backends.elementwise_numpy import TABLE

POSITIVE = {"log", "log1p", "sqrt", "power", "sqrt_grad", "log1p_grad", "pow_grad_base",
            "pow_grad_exponent", "div", "div_grad_b"}
BACKEND = CpuBackend()


def _inputs(name, arity, shape, dtype, rng):
    xs = []
    for k in range(arity):
        x = rng.standard_normal(shape)
        if name in POSITIVE:
            x = np.abs(x) + 0.5
        if name == "where" and k == 0:
            x = x > 0
        elif name in ("clamp", "clamp_grad") and k >= arity - 2:
            x = np.full(shape, -0.5 if k == arity - 2 else 0.7)
        xs.append(x if x.dtype == np.bool_ else x.astype(dtype))
    return xs


def _interpreted(kernel, fn):
    return kernels._instantiate(kernel.py_func, "interpreted", f=fn)


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_kernel_equals_interpreted(name, dtype):
    rng = np.random.default_rng(0)
    _, fn, arity = TABLE[name]
    flat, _ = BACKEND._kernel(name)
    xs = _inputs(name, arity, (37,), dtype, rng)
    got = np.empty(37, dtype)
    flat(got, *xs)
    want = np.empty(37, dtype)
    _interpreted(flat, fn)(want, *xs)
    np.testing.assert_allclose(got, want, rtol=2e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_strided_kernel_equals_interpreted(name):
    rng = np.random.default_rng(1)
    _, fn, arity = TABLE[name]
    _, strided = BACKEND._kernel(name)
    xs = _inputs(name, arity, (2, 3, 5), np.float64, rng)
    xs = [np.broadcast_to(x[:, :1, :], (2, 3, 5)) if k == 0 else x for k, x in enumerate(xs)]
    got = np.empty((2, 3, 5))
    strided(got, *xs)
    want = np.empty((2, 3, 5))
    _interpreted(strided, fn)(want, *xs)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_numpy_form_equals_scalar_form(name):
    rng = np.random.default_rng(2)
    numpy_fn, fn, arity = TABLE[name]
    xs = _inputs(name, arity, (50,), np.float64, rng)
    got = numpy_fn(*xs)
    want = [fn(*(x[i] for x in xs)) for i in range(50)]
    np.testing.assert_allclose(got, np.array(want, dtype=np.float64), rtol=1e-12)


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 30.0, -30.0, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softplus", "abs", "tanh", "exp",
                                  "log", "sqrt", "log1p", "neg"])
def test_special_values_kernel_matches_numpy_form(name):
    numpy_fn, _, _ = TABLE[name]
    flat, _ = BACKEND._kernel(name)
    got = np.empty_like(SPECIAL)
    flat(got, SPECIAL)
    with np.errstate(all="ignore"):
        want = numpy_fn(SPECIAL)
    # The two forms may round differently by an ulp (sigmoid(-30): z/(1+z) vs 1/(1+e^30));
    # NaN and infinities must sit in the same places.
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_nan_propagates_in_both_argument_orders(name):
    flat, _ = BACKEND._kernel(name)
    a = np.array([np.nan, 1.0, np.nan])
    b = np.array([1.0, np.nan, np.nan])
    got = np.empty(3)
    flat(got, a, b)
    assert np.isnan(got).all()


def test_scalar_operand_is_broadcast_by_flat_kernel():
    flat, _ = BACKEND._kernel("sub")
    x = np.arange(5, dtype=np.float64)
    got = np.empty(5)
    flat(got, 1.0, x)
    np.testing.assert_array_equal(got, 1.0 - x)


@pytest.mark.parametrize("name", sorted(kernels.REDUCTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduction_kernels_equal_interpreted_and_numpy(name, dtype):
    rng = np.random.default_rng(3)
    combine = kernels.REDUCTIONS[name]
    middle, rows = BACKEND._reducer(name)
    numpy_fn = {"sum": np.sum, "amax": np.amax, "amin": np.amin}[name]
    # float32 sums in another order round differently; inputs are O(1), so 1e-5 absolute
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12)
    x3 = rng.standard_normal((3, 7, 600)).astype(dtype)
    for bands in (1, 2, 7):
        got = np.empty((3, 600), dtype)
        middle(x3, np.empty((3, bands, 600), dtype), got)
        want = np.empty((3, 600), dtype)
        interpreted = kernels._instantiate(middle.py_func, "interpreted", c=combine)
        interpreted(x3, np.empty((3, bands, 600), dtype), want)
        np.testing.assert_allclose(got, want, **tol)
        np.testing.assert_allclose(got, numpy_fn(x3, axis=1), **tol)
    x2 = rng.standard_normal((5, 300)).astype(dtype)
    got = np.empty(5, dtype)
    rows(x2, got)
    want = np.empty(5, dtype)
    kernels._instantiate(rows.py_func, "interpreted", c=combine)(x2, want)
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(got, numpy_fn(x2, axis=1), **tol)


@pytest.mark.parametrize("name", ["sum", "amax", "amin"])
@pytest.mark.parametrize("axes", [(0,), (1,), (0, 1), (1, 2), (2,)])
def test_backend_reductions_on_the_kernel_path_equal_numpy(name, axes):
    x = np.random.default_rng(4).standard_normal((40, 33, 70))  # 92,400 >= the threshold
    got = getattr(BACKEND, name)(x, axes)
    np.testing.assert_allclose(got, getattr(np, name)(x, axis=axes), rtol=1e-12)
    full = getattr(BACKEND, name)(x, (0, 1, 2))
    np.testing.assert_allclose(full, getattr(np, name)(x), rtol=1e-12)


def test_amax_propagates_nan_on_every_path():
    x = np.zeros((300, 400))
    x[123, 45] = np.nan
    assert np.isnan(BACKEND.amax(x, (1,)))[123] and np.isnan(BACKEND.amax(x, (1,))).sum() == 1
    assert np.isnan(BACKEND.amax(x, (0,)))[45] and np.isnan(BACKEND.amax(x, (0,))).sum() == 1
    assert np.isnan(BACKEND.amax(x, (0, 1)))


def test_fingerprint_changes_with_the_scalar_code():
    assert kernels._fingerprint(scalar.sigmoid) != kernels._fingerprint(scalar.tanh)
    assert kernels._fingerprint(scalar.sigmoid) == kernels._fingerprint(scalar.sigmoid)
