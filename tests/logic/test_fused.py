"""Tests for nesy.logic.fused: the one-pass stable product kernels against their composed
forms and LTNtorch, on the NumPy path and (from KERNEL_THRESHOLD elements) the Numba path."""

import inspect

import numpy as np
import pytest

import nesy
from nesy.logic import fused
from nesy.logic.aggregators import pi_0, pi_1
from nesy.tensor.backends import cpu
from nesy.tensor.backends.elementwise_numpy import TABLE

torch = pytest.importorskip("torch")
ltn = pytest.importorskip("ltn")
ops = ltn.fuzzy_ops

BIG = 48_000  # elements of the big cases: above the kernel threshold, so Numba runs


def test_big_cases_are_above_the_kernel_threshold():
    assert cpu.KERNEL_THRESHOLD == 32768 < BIG


# what each fused op must equal: its composed form with pi_0/pi_1, and LTNtorch's operator
CONNECTIVES = {
    "and": (fused.AndProdStable, lambda x, y: pi_0(x) * pi_0(y), ops.AndProd(stable=True)),
    "or": (
        fused.OrProbsumStable,
        lambda x, y: pi_1(x) + pi_1(y) - pi_1(x) * pi_1(y),
        ops.OrProbSum(stable=True),
    ),
    "implies": (
        fused.ImpliesReichenbachStable,
        lambda x, y: 1.0 - pi_0(x) + pi_0(x) * pi_1(y),
        ops.ImpliesReichenbach(stable=True),
    ),
}
SMALL_SHAPES = [((4, 5), (4, 5)), ((4, 1), (1, 5)), ((3, 4, 5), (5,)), ((), (2, 3))]
BIG_SHAPES = [((240, 200), (240, 200)), ((240, 200), (200,)), ((240, 1), (1, 200))]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=2e-6, atol=2e-7)}


@pytest.fixture
def kernel_calls(monkeypatch):
    """The names of the elementwise ops sent to the Numba kernels during the test."""
    calls = []
    original = cpu.CpuBackend._map_kernel

    def spy(self, name, xs):
        calls.append(name)
        return original(self, name, xs)

    monkeypatch.setattr(cpu.CpuBackend, "_map_kernel", spy)
    return calls


def leaves(arrays, dtype):
    return [nesy.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]


def check(ours, composed, reference, arrays, dtype, tol=None):
    """ours == composed (nesy, same dtype) == reference (torch, float64), values and
    gradients of a random weighted sum."""
    tol = tol or TOL[dtype]
    xs, cs = leaves(arrays, dtype), leaves(arrays, dtype)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, comp, ref = ours(*xs), composed(*cs), reference(*ts)
    assert out.dtype == dtype and tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **tol)
    np.testing.assert_allclose(out.detach().numpy(), comp.detach().numpy(), **tol)
    weights = np.random.default_rng(0).random(tuple(ref.shape))
    (out * nesy.tensor(weights, dtype=dtype)).sum().backward()
    (comp * nesy.tensor(weights, dtype=dtype)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    for x, c, t in zip(xs, cs, ts):
        assert x.grad.dtype == dtype and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol)
        np.testing.assert_allclose(x.grad.numpy(), c.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", SMALL_SHAPES + BIG_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(CONNECTIVES))
def test_connective_matches_composed_and_ltn(name, shapes, dtype, kernel_calls):
    op, composed, reference = CONNECTIVES[name]
    rng = np.random.default_rng(1)
    arrays = [rng.random(s) for s in shapes]
    check(lambda x, y: fused.connective(op, x, y), composed, reference, arrays, dtype)
    big = int(np.prod(np.broadcast_shapes(*shapes))) >= cpu.KERNEL_THRESHOLD
    assert any(c in (op.op, op.grad_a, op.grad_b) for c in kernel_calls) == big


@pytest.mark.parametrize("name", sorted(CONNECTIVES))
def test_connective_with_a_python_float(name):
    op, composed, _ = CONNECTIVES[name]
    y = nesy.tensor(np.random.default_rng(2).random(5), dtype=nesy.float32, requires_grad=True)
    for a, b in [(0.3, y), (y, 0.3)]:
        out = fused.connective(op, a, b)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.detach().numpy(), composed(a, b).detach().numpy(), rtol=1e-6)
    both = fused.connective(op, 0.3, 0.6)
    np.testing.assert_allclose(both.item(), composed(0.3, 0.6), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CONNECTIVES))
def test_connective_gradcheck(name):
    op = CONNECTIVES[name][0]
    rng = np.random.default_rng(3)
    x, y = leaves([rng.random((3, 1)), rng.random((1, 4))], np.float64)
    assert nesy.gradcheck(lambda a, b: fused.connective(op, a, b), x, y)


@pytest.mark.parametrize("name", sorted(CONNECTIVES))
def test_connective_gradient_only_where_needed(name):
    op = CONNECTIVES[name][0]
    x = nesy.tensor(np.random.default_rng(4).random(3), requires_grad=True)
    y = nesy.tensor(np.random.default_rng(5).random(3))
    fused.connective(op, x, y).sum().backward()
    assert x.grad is not None and y.grad is None


# --- p-means ----------------------------------------------------------------------------------
def composed_pmean_error(p, dims):
    return lambda x: 1.0 - ((1.0 - pi_1(x)) ** p).mean(dims, keepdim=True) ** (1.0 / p)


def composed_pmean(p, dims):
    return lambda x: (pi_0(x) ** p).mean(dims, keepdim=True) ** (1.0 / p)


PMEANS = {
    "pmean_error": (fused.pmean_error_stable, composed_pmean_error, ops.AggregPMeanError),
    "pmean": (fused.pmean_stable, composed_pmean, ops.AggregPMean),
}
PMEAN_CASES = [
    ((4, 5, 6), (1,)),
    ((4, 5, 6), (0, 2)),
    ((4, 5, 6), (0, 1, 2)),
    ((7,), (0,)),
    ((240, 200), (1,)),
    ((240, 200), (0,)),
    ((40, 60, 20), (0, 2)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [2.0, 3.5])
@pytest.mark.parametrize("shape, dims", PMEAN_CASES, ids=str)
@pytest.mark.parametrize("name", sorted(PMEANS))
def test_pmean_matches_composed_and_ltn(name, shape, dims, p, dtype, kernel_calls):
    ours, composed, reference = PMEANS[name]
    x = np.random.default_rng(6).random(shape)
    x.flat[0] = 0.0  # the ends of [0, 1], where the stable forms matter
    x.flat[-1] = 1.0
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    if dtype == np.float64 and x.size >= cpu.KERNEL_THRESHOLD:
        tol = dict(rtol=1e-10, atol=1e-12)  # sums in another order than torch's
    check(
        lambda t: ours(t, dims, p),
        composed(p, dims),
        lambda t: reference(p=p, stable=True)(t, dim=dims, keepdim=True),
        [x],
        dtype,
        tol,
    )
    terms = {"pmean_error": "logic.error_power", "pmean": "logic.power_stable"}[name]
    assert (terms in kernel_calls) == (x.size >= cpu.KERNEL_THRESHOLD)
    assert (terms + "_grad" in kernel_calls) == (x.size >= cpu.KERNEL_THRESHOLD)


@pytest.mark.parametrize("p", [2.0, 3.5])
@pytest.mark.parametrize("name", sorted(PMEANS))
def test_pmean_gradcheck(name, p):
    x = leaves([np.random.default_rng(7).uniform(0.05, 0.95, (3, 4))], np.float64)[0]
    for dims in [(0,), (1,), (0, 1)]:
        assert nesy.gradcheck(lambda t, dims=dims: PMEANS[name][0](t, dims, p), x)


def test_pmean_of_all_ones_and_zeros():
    ones, zeros = nesy.ones(5, dtype=nesy.float64), nesy.zeros(5, dtype=nesy.float64)
    assert fused.pmean_error_stable(ones, (0,), 2.0).item() == pytest.approx(1 - 1e-4)
    assert fused.pmean_error_stable(zeros, (0,), 2.0).item() == pytest.approx(0.0, abs=1e-15)
    assert fused.pmean_stable(zeros, (0,), 3.5).item() == pytest.approx(1e-4)
    assert fused.pmean_stable(ones, (0,), 3.5).item() == pytest.approx(1.0)


# --- the scalar forms are their own NumPy forms -------------------------------------------------
LOGIC_OPS = sorted(name for name in TABLE if name.startswith("logic."))


def test_every_fused_scalar_form_is_registered():
    assert len(LOGIC_OPS) == 11


@pytest.mark.parametrize("name", LOGIC_OPS)
def test_numpy_and_scalar_forms_agree(name):
    numpy_form, scalar_form, arity = TABLE[name]
    params = list(inspect.signature(scalar_form).parameters)
    assert len(params) == arity
    rng = np.random.default_rng(8)
    for p in (2.0, 3.5):  # an exponent is a scalar for the whole array, as the ops pass it
        args = [p if param == "p" else rng.random(50) for param in params]
        got = numpy_form(*args)
        expected = [
            scalar_form(*[a if np.isscalar(a) else float(a[i]) for a in args]) for i in range(50)
        ]
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_connective_and_pmean_on_permuted_views(dtype, kernel_calls):
    """A permuted table (as ``select`` hands them over) reaches the kernels as a strided view."""
    rng = np.random.default_rng(9)
    a, b = rng.random((200, 240)), rng.random((240, 200))
    op, _, reference = CONNECTIVES["implies"]
    check(
        lambda x, y: fused.connective(op, x.permute(1, 0), y),
        lambda x, y: CONNECTIVES["implies"][1](x.permute(1, 0), y),
        lambda x, y: reference(x.T, y),
        [a, b],
        dtype,
    )
    check(
        lambda x: fused.pmean_error_stable(x.permute(1, 0), (1,), 3.5),
        lambda x: composed_pmean_error(3.5, (1,))(x.permute(1, 0)),
        lambda x: ops.AggregPMeanError(p=3.5)(x.T, dim=(1,), keepdim=True),
        [a],
        dtype,
        dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12),
    )
    assert op.op in kernel_calls and "logic.error_power" in kernel_calls
