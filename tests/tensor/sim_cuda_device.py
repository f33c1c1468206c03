"""The CUDA backend beyond the op tables: coverage of every primitive and elementwise op,
predicates, tree reductions, indexing, placement, modules, optimizers, a knowledge base.

Collected only by ``test_cuda_sim.py`` (a subprocess under ``NUMBA_ENABLE_CUDASIM=1``).
"""

import inspect
import itertools

import numpy as np
import pytest

import nesy
from nesy.tensor import linalg, ops, reductions, shape_ops
from nesy.tensor.backends import cuda_kernels, get_backend
from nesy.tensor.backends.cpu import CpuBackend
from nesy.tensor.backends.cuda import CudaBackend
from nesy.tensor.backends.elementwise_numpy import TABLE

pytestmark = pytest.mark.skipif(not nesy.cuda.is_available(), reason="no GPU, no simulator")

SPECIAL = np.array([-np.inf, -30.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.5, 20.5, np.inf, np.nan])
# The simulator runs the scalar functions in Python, whose math.log(0), math.exp(1000) raise
# where a GPU returns -inf / inf: there, ops calling math get values inside every domain.
SAFE = np.array([-30.0, -1.0, -0.5, 0.5, 1.0, 2.5, 20.5])


def _grid(arity, values=SPECIAL):
    return [np.ascontiguousarray(c) for c in np.array(list(itertools.product(
        *[values] * arity))).T]


def _cuda(a):
    return get_backend("cuda").from_numpy(a)


def _host(a):
    return get_backend("cuda").to_numpy(a)


# --- every primitive has a kernel ----------------------------------------------------------
def test_cuda_backend_has_every_cpu_backend_method():
    public = {n for n, _ in inspect.getmembers(CpuBackend, inspect.isfunction)
              if not n.startswith("_")}
    missing = sorted(n for n in public if not hasattr(CudaBackend, n))
    assert not missing, f"CUDA backend lacks {missing}"


def _primitives():
    found, stack = [], [ops.Primitive]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if "forward" in vars(sub) or any("forward" in vars(b) for b in sub.__mro__[1:-3]):
                found.append(sub)
    return {c.__name__ for c in found if not c.__name__.startswith("_")}


# One call per primitive, run on the GPU and on the CPU: forward values and input gradients.
EXAMPLES = {
    "Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mul": lambda a, b: a * b,
    "Div": lambda a, b: a / (b.abs() + 1), "Pow": lambda a, b: (a.abs() + 0.5) ** b,
    "Maximum": nesy.maximum, "Minimum": nesy.minimum,
    "Where": lambda a, b: nesy.where(a > b, a, b), "Neg": lambda a, b: -a,
    "Exp": lambda a, b: a.exp(), "Sigmoid": lambda a, b: a.sigmoid(),
    "Tanh": lambda a, b: a.tanh(), "Sqrt": lambda a, b: (a.abs() + 0.1).sqrt(),
    "Log": lambda a, b: (a.abs() + 0.1).log(), "Log1p": lambda a, b: a.abs().log1p(),
    "Abs": lambda a, b: a.abs(), "Relu": lambda a, b: a.relu(),
    "Softplus": lambda a, b: nesy.softplus(a), "Clamp": lambda a, b: a.clamp(-0.5, 0.5),
    "Cast": lambda a, b: a.double(), "Clone": lambda a, b: a.clone(),
    "Sum": lambda a, b: a.sum(0), "Amax": lambda a, b: a.amax(1), "Amin": lambda a, b: a.amin(),
    "Prod": lambda a, b: a.prod(1), "LogSumExp": lambda a, b: a.logsumexp(0),
    "Softmax": lambda a, b: a.softmax(1), "LogSoftmax": lambda a, b: a.log_softmax(0),
    "Reshape": lambda a, b: a.reshape(12), "Permute": lambda a, b: a.permute(1, 0),
    "Expand": lambda a, b: a[:1].expand(5, 4), "Index": lambda a, b: a[[0, 2, 0], 1:],
    "Cat": lambda a, b: nesy.cat([a, b], 1), "MatMul": lambda a, b: a @ b.T,
    "Einsum": lambda a, b: nesy.einsum("ij,kj->ik", a, b),
    "_DeviceCopy": None,
}


def test_every_primitive_has_an_example_here():
    missing = sorted(_primitives() - set(EXAMPLES))
    assert not missing, f"add a CUDA example for the primitives {missing}"


@pytest.mark.parametrize("name", sorted(k for k, v in EXAMPLES.items() if v is not None))
def test_every_primitive_runs_on_cuda_like_on_cpu(name):
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (3, 4))]
    results = {}
    for dev in ("cpu", "cuda"):
        xs = [nesy.tensor(a, requires_grad=True, device=dev) for a in arrays]
        y = EXAMPLES[name](*xs)
        assert y.device == dev
        y.backward(nesy.ones(y.shape, dtype=y.dtype, device=dev))
        results[dev] = [y.detach().numpy()] + [
            np.zeros(a.shape) if x.grad is None else x.grad.numpy() for x, a in zip(xs, arrays)]
    for got, expected in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_the_primitive_modules_are_all_scanned():
    assert {"MatMul", "Sum", "Index", "Add"} <= _primitives()
    assert linalg and reductions and shape_ops  # imported: their subclasses are registered


@pytest.mark.parametrize("name", sorted(TABLE))
def test_elementwise_kernel_matches_numpy_form(name):
    _, fn, arity = TABLE[name]
    values = SAFE if cuda_kernels.SIMULATOR and "math." in inspect.getsource(fn) else SPECIAL
    values = values if arity < 4 else values[::2]
    xs = _grid(arity, values)
    if name == "where":
        xs[0] = xs[0] > 0
    with np.errstate(all="ignore"):
        expected = get_backend("cpu").map(name, *xs)
    got = _host(get_backend("cuda").map(name, *[_cuda(x) for x in xs]))
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", sorted(cuda_kernels.PREDICATES) + sorted(cuda_kernels.ROUNDING))
def test_predicates_and_rounding_match_numpy(name):
    numpy_fn = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                "gt": np.greater, "ge": np.greater_equal}.get(name) or getattr(np, name)
    values = np.concatenate([SPECIAL, [-2.5, -1.5, 1.5, 0.49999999999999994, 3.7, -3.2]])
    arity = cuda_kernels.PREDICATES.get(name, (None, 1))[1]
    xs = _grid(arity, values if arity == 1 else SPECIAL)
    got = _host(numpy_fn(*[_cuda(x) for x in xs]))
    with np.errstate(all="ignore"):
        expected = numpy_fn(*xs)
    np.testing.assert_array_equal(got, expected, err_msg=name)


# --- reductions: the shared-memory tree and the serial path --------------------------------
@pytest.mark.parametrize("name", ["sum", "amax", "amin", "prod"])
@pytest.mark.parametrize("axes", [(0,), (1,), (0, 2), (0, 1, 2)])
@pytest.mark.parametrize("serial_max", [0, 1 << 30])
def test_reductions_match_numpy_on_both_kernels(name, axes, serial_max, monkeypatch):
    monkeypatch.setattr(cuda_kernels, "SERIAL_REDUCTION_MAX", serial_max)
    x = np.random.default_rng(1).uniform(0.5, 1.5, (3, 20, 4))
    x[0, 3, 1] = np.nan if name != "prod" else x[0, 3, 1]
    expected = getattr(np, name)(x, axis=axes)
    got = _host(getattr(get_backend("cuda"), name)(_cuda(x), axes))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape, transpose_b", [
    ((5, 7), (7, 6), False), ((9, 10), (3, 10), True), ((2, 1, 3, 9), (4, 9, 2), False),
    ((6,), (6, 5), False), ((3, 0), (0, 2), False),
])
def test_tiled_matmul_matches_numpy(a_shape, b_shape, transpose_b, monkeypatch):
    monkeypatch.setattr(cuda_kernels, "SMALL_MATMUL", 0)  # the shared-memory tile kernel
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    bt = _cuda(b).T if transpose_b else _cuda(b)  # a strided operand, not copied
    got = _host(get_backend("cuda").matmul(_cuda(a), bt))
    np.testing.assert_allclose(got, a @ (b.T if transpose_b else b), rtol=1e-12, atol=1e-12)


def test_int64_sum_and_extrema():
    x = np.arange(-30, 30, dtype=np.int64).reshape(6, 10)
    be = get_backend("cuda")
    np.testing.assert_array_equal(_host(be.sum(_cuda(x), (1,))), x.sum(1))
    np.testing.assert_array_equal(_host(be.amax(_cuda(x), (0,))), x.max(0))


def test_argmax_argmin_cumprod_all_any():
    x = np.array([[1.0, 3.0, 3.0, -1.0], [np.nan, 2.0, 5.0, 0.0]])
    t = nesy.tensor(x, device="cuda")
    np.testing.assert_array_equal(t.argmax(1).numpy(), [1, 0])
    np.testing.assert_array_equal(t.argmin(1).numpy(), [3, 0])
    assert t.argmax().item() == 4
    np.testing.assert_allclose(_host(get_backend("cuda").cumprod(_cuda(x), 1)),
                               np.cumprod(x, 1))
    assert not t.isnan().all().item() and t.isnan().any().item()
    np.testing.assert_array_equal(nesy.all(t > -5, 1).numpy(), [True, False])


# --- indexing --------------------------------------------------------------------------------
def test_basic_and_advanced_indexing_match_numpy():
    x = np.arange(60.0).reshape(3, 4, 5)
    t = nesy.tensor(x, device="cuda")
    mask = x[:, :, 0] > 20
    for index in [(1,), (slice(None, None, -1), 2), (Ellipsis, None, 3), ([2, 0, 2], slice(1, 3)),
                  (slice(None), [1, 1], [4, 0]), (mask,), (0, [[1, 2], [3, 0]])]:
        np.testing.assert_array_equal(t[index].numpy(), x[index], err_msg=str(index))


def test_repeated_indices_accumulate_their_gradients_with_atomics():
    x = nesy.ones(5, requires_grad=True, device="cuda")
    x[nesy.tensor([0, 3, 0, 0], device="cuda")].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 0, 1, 0])


def test_setitem_fill_zero_copy_on_cuda():
    t = nesy.zeros(3, 4, device="cuda")
    t[1] = 2.0
    t[:, 0] = nesy.tensor([5.0, 6.0, 7.0], device="cuda")
    t[[0, 2], [3, 3]] = 9.0
    expected = np.zeros((3, 4), np.float32)
    expected[1], expected[:, 0], expected[[0, 2], [3, 3]] = 2.0, [5, 6, 7], 9.0
    np.testing.assert_array_equal(t.numpy(), expected)
    t.zero_()
    assert t.sum().item() == 0
    t.fill_(1.5)
    t.copy_(nesy.arange(4.0))
    np.testing.assert_array_equal(t.numpy(), np.tile(np.arange(4.0), (3, 1)))


# --- placement -------------------------------------------------------------------------------
def test_to_cpu_numpy_round_trip_and_repr():
    x = nesy.randn(3, 2)
    y = x.to("cuda")
    assert y.device == "cuda" and x.device == "cpu"
    assert "device='cuda'" in repr(y)
    np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    assert nesy.tensor(2.5, device="cuda").item() == 2.5
    assert nesy.zeros((), device="cuda").shape == ()
    assert nesy.cuda.is_available() and nesy.cuda.device_count() == 1
    nesy.cuda.synchronize()


def test_gradient_flows_back_across_devices():
    x = nesy.ones(3, requires_grad=True)
    (x.to("cuda") * 2).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])


def test_no_silent_copy_to_the_host():
    t = nesy.ones(3, device="cuda")
    with pytest.raises(TypeError, match="cannot be converted to a NumPy array implicitly"):
        np.asarray(t._data)


@pytest.mark.parametrize("fn", [lambda a, b: a + b, lambda a, b: a @ b,
                                lambda a, b: nesy.where(a > 0, a, b)])
def test_mixing_devices_is_an_error_naming_both(fn):
    a, b = nesy.ones(2), nesy.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="same device, found (cpu and cuda|cuda and cpu)"):
        fn(a, b)


def test_unsupported_device_index_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="current GPU only"):
        nesy.ones(1, device="cuda:1")


# --- modules and optimizers -----------------------------------------------------------------
@pytest.mark.parametrize("make_opt", [
    lambda ps: nesy.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: nesy.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1),
    lambda ps: nesy.optim.AdamW(ps, lr=0.01),
])
def test_module_to_cuda_trains_like_on_cpu(make_opt):
    results = {}
    for dev in ("cpu", "cuda"):
        nesy.manual_seed(0)
        net = nesy.nn.MLP([3, 8, 2]).to(dev)
        opt = make_opt(net.parameters())
        x = nesy.randn(5, 3).to(dev)
        for _ in range(2):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
        assert all(p.device == dev for p in net.parameters())
        results[dev] = [p.detach().numpy() for p in net.parameters()]
    for got, expected in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_optimizer_state_round_trips_on_cuda():
    w = nesy.nn.Parameter(nesy.ones(3, device="cuda"))
    opt = nesy.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    twin = nesy.optim.Adam([w], lr=0.1)
    twin.load_state_dict(opt.state_dict())
    assert twin.state[w]["exp_avg"].device == "cuda"
