"""Semantics of the autograd engine: accumulation, graph lifetime, grad modes, dtypes, NaN.

Expected values come from hand math or from PyTorch run on the same inputs.
"""

import math
import threading
import warnings

import numpy as np
import pytest
import torch

import nesy


# --- accumulation and graph lifetime ---------------------------------------------------------
def test_gradients_accumulate_across_backward_calls():
    x = nesy.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    assert x.grad.tolist() == [2.0 + 3.0, -4.0 + 3.0, 6.0 + 3.0]


def test_zero_grad_then_backward_starts_afresh():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad = None
    (x * 5.0).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_second_backward_through_freed_graph_raises():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*"
                                           r"retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]  # 2 * 2x


def test_non_scalar_backward_needs_a_gradient():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(2,\)"):
        (x * 2).backward()


def test_non_scalar_backward_with_gradient():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(nesy.tensor([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 40.0]


def test_backward_of_one_element_non_0d_tensor_needs_no_gradient():
    x = nesy.tensor([3.0], requires_grad=True)
    (x * x).backward()
    assert x.grad.tolist() == [6.0]


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nesy.tensor(1.0).backward()


def test_chain_of_100000_ops_backpropagates_without_recursion_error():
    n = 100_000
    x = nesy.tensor(0.5, dtype=nesy.float64, requires_grad=True)
    y = x
    for i in range(n):
        y = y * 1.00001 if i % 2 else y + 0.25
    y.backward()
    # each "+ 0.25" is followed by "* r": y = r^(n/2) x + 0.25 (r + r^2 + ... + r^(n/2))
    r = 1.00001
    expected_grad = r ** (n // 2)
    expected_value = expected_grad * 0.5 + 0.25 * sum(r**k for k in range(1, n // 2 + 1))
    assert y.item() == pytest.approx(expected_value, rel=1e-9)
    assert x.grad.item() == pytest.approx(expected_grad, rel=1e-9)


def test_diamond_graph_sums_both_paths():
    x = nesy.tensor([2.0, -1.0], requires_grad=True)
    a = x * 3.0
    b = x.exp()
    (a * b).sum().backward()  # d/dx 3x e^x = 3 e^x + 3x e^x
    expected = [3 * math.exp(v) * (1 + v) for v in (2.0, -1.0)]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_tensor_used_twice_in_one_op():
    x = nesy.tensor([1.5, -2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [3.0, -4.0]


def test_same_leaf_in_two_graphs_with_shared_intermediate():
    x = nesy.tensor(2.0, dtype=nesy.float64, requires_grad=True)
    h = x * x  # used by three consumers
    (h + h * h + h.exp()).backward()  # d/dx = 2x (1 + 2h + e^h)
    assert x.grad.item() == pytest.approx(4 * (1 + 8 + math.exp(4)), rel=1e-12)


# --- grad modes ------------------------------------------------------------------------------
def test_no_grad_context():
    x = nesy.ones(2, requires_grad=True)
    with nesy.no_grad():
        y = x * 2
        assert not nesy.is_grad_enabled()
    assert nesy.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_enable_grad_inside_no_grad():
    x = nesy.ones(2, requires_grad=True)
    with nesy.no_grad():
        with nesy.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_no_grad_and_enable_grad_as_decorators():
    x = nesy.ones(2, requires_grad=True)

    @nesy.no_grad()
    def frozen():
        return x * 2

    @nesy.enable_grad()
    def recorded():
        return x * 2

    assert not frozen().requires_grad
    with nesy.no_grad():
        assert recorded().requires_grad
    assert nesy.is_grad_enabled()


def test_set_grad_enabled_as_function_context_and_decorator():
    x = nesy.ones(2, requires_grad=True)
    try:
        nesy.set_grad_enabled(False)  # as a call: takes effect at once, like PyTorch
        assert not nesy.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        nesy.set_grad_enabled(True)
    with nesy.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert nesy.is_grad_enabled()

    @nesy.set_grad_enabled(False)
    def frozen():
        return x * 2

    assert nesy.is_grad_enabled()  # decorating alone changes nothing
    assert not frozen().requires_grad
    assert nesy.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with nesy.no_grad():
            raise ValueError
    assert nesy.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with nesy.no_grad():
        t = threading.Thread(target=lambda: seen.append(nesy.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


# --- retain_grad, autograd.grad, detach, requires_grad ---------------------------------------
def test_retain_grad_on_non_leaf():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    other = x * 4.0
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, 12.0]  # 2h
    assert other.grad is None
    assert x.grad.tolist() == [18.0, 36.0]  # 2h * 3


def test_autograd_grad_returns_without_touching_dot_grad():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x * x).sum()
    (g,) = nesy.autograd.grad(y, x)
    assert g.tolist() == [3.0, 12.0]
    assert x.grad is None and not g.requires_grad


def test_autograd_grad_with_grad_outputs_and_several_inputs():
    a = nesy.tensor([1.0, 2.0], requires_grad=True)
    b = nesy.tensor([3.0, 4.0], requires_grad=True)
    y = a * b
    ga, gb = nesy.autograd.grad([y], [a, b], [nesy.tensor([1.0, -1.0])])
    assert ga.tolist() == [3.0, -4.0] and gb.tolist() == [1.0, -2.0]


def test_autograd_grad_for_a_non_leaf_input():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    (g,) = nesy.autograd.grad((h * h).sum(), h)
    assert g.tolist() == [4.0, 8.0]


def test_autograd_grad_unused_input():
    x = nesy.tensor([1.0], requires_grad=True)
    unused = nesy.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        nesy.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = nesy.autograd.grad(y, [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0] and gu is None


def test_autograd_grad_is_nesy_grad():
    assert nesy.grad is nesy.autograd.grad


def test_detach_cuts_the_graph_and_shares_data():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    y = (x * d).sum()
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0]  # d counts as a constant


def test_leaf_and_non_leaf():
    x = nesy.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


@pytest.mark.parametrize("dtype", [nesy.int64, nesy.int32, nesy.bool_])
def test_requires_grad_on_non_float_tensor_raises(dtype):
    with pytest.raises(RuntimeError, match=f"floating point.*{np.dtype(dtype)}"):
        nesy.tensor([1, 0], dtype=dtype, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        nesy.tensor([1, 0], dtype=dtype).requires_grad_()


def test_integer_outputs_do_not_require_grad():
    x = nesy.tensor([[1.0, 3.0], [2.0, 0.0]], requires_grad=True)
    assert not x.argmax(1).requires_grad
    assert not (x > 1).requires_grad
    assert x.max(dim=1).values.requires_grad and not x.max(dim=1).indices.requires_grad


def test_gradient_of_float32_leaf_is_float32_even_through_float64():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    y = (x * nesy.tensor([3.0, 4.0], dtype=nesy.float64)).sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 4.0]


def test_broadcast_gradient_is_summed_to_the_input_shape():
    b = nesy.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (nesy.ones(4, 3) * b).sum().backward()
    assert b.grad.tolist() == [4.0, 4.0, 4.0]


# --- dtype promotion: the result dtype PyTorch gives ----------------------------------------
PROMOTION = {
    "int tensor * 2.5": lambda m: m.tensor([1, 2]) * 2.5,
    "2.5 * int tensor": lambda m: 2.5 * m.tensor([1, 2]),
    "float32 + float64": lambda m: m.tensor([1.0, 2.0]) + m.tensor([1.0, 2.0], dtype=m.float64),
    "int64 / int64": lambda m: m.tensor([1, 3]) / m.tensor([2, 2]),
    "int64 / 2": lambda m: m.tensor([1, 3]) / 2,
    "3 / int64": lambda m: 3 / m.tensor([1, 2]),
    "0-dim float64 * float32": lambda m: m.tensor(2.0, dtype=m.float64) * m.tensor([1.0, 2.0]),
    "float32 * 0-dim float64": lambda m: m.tensor([1.0, 2.0]) * m.tensor(2.0, dtype=m.float64),
    "0-dim float32 + 0-dim float64": lambda m: m.tensor(1.0) + m.tensor(2.0, dtype=m.float64),
    "int64 * 0-dim float64": lambda m: m.tensor([1, 2]) * m.tensor(5.0, dtype=m.float64),
    "int32 * 0-dim float32": lambda m: m.tensor([1, 2], dtype=m.int32) * m.tensor(0.5),
    "bool * 0-dim int32": lambda m: m.tensor([True, False]) * m.tensor(3, dtype=m.int32),
    "float32 * 0-dim int64": lambda m: m.tensor([1.0, 2.0]) * m.tensor(5),
    "int32 + int64": lambda m: m.tensor([1, 2], dtype=m.int32) + m.tensor([1, 2]),
    "int32 * 0-dim int64": lambda m: m.tensor([1, 2], dtype=m.int32) * m.tensor(5),
    "int32 * 5": lambda m: m.tensor([1, 2], dtype=m.int32) * 5,
    "uint8 + int8": lambda m: m.tensor([1, 2], dtype=m.uint8) + m.tensor([1, 2], dtype=m.int8),
    "float16 + float32": lambda m: m.tensor([1.0], dtype=m.float16) + m.tensor([1.0]),
    "float64 + python int": lambda m: m.tensor([1.0], dtype=m.float64) + 2,
    "bool + int64": lambda m: m.tensor([True, False]) + m.tensor([1, 2]),
    "bool + True": lambda m: m.tensor([True, False]) + True,
    "bool * 2": lambda m: m.tensor([True, False]) * 2,
    "bool * 2.5": lambda m: m.tensor([True, False]) * 2.5,
    "int ** 2": lambda m: m.tensor([1, 2]) ** 2,
    "int ** 0.5": lambda m: m.tensor([1, 2]) ** 0.5,
    "2 ** int": lambda m: 2 ** m.tensor([1, 2]),
    "2.5 ** int": lambda m: 2.5 ** m.tensor([1, 2]),
    "float32 ** float64": lambda m: m.tensor([2.0]) ** m.tensor([3.0], dtype=m.float64),
    "where int/float": lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]),
                                         m.tensor([1.5, 2.5])),
    "where int/scalar float": lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]), 2.5),
    "where float32/0-dim float64": lambda m: m.where(m.tensor([True, False]), m.tensor([1.0, 2.0]),
                                                     m.tensor(0.5, dtype=m.float64)),
    "maximum int/float": lambda m: m.maximum(m.tensor([1, 2]), m.tensor([1.5, 0.5])),
    "cat int/float": lambda m: m.cat([m.tensor([1, 2]), m.tensor([1.5])]),
    "stack int32/int64": lambda m: m.stack([m.tensor([1], dtype=m.int32), m.tensor([2])]),
    "sum int32": lambda m: m.tensor([1, 2], dtype=m.int32).sum(),
    "sum bool": lambda m: m.tensor([True, True, False]).sum(),
    "prod int64": lambda m: m.tensor([3, 2]).prod(),
    "exp int": lambda m: m.tensor([1, 2]).exp(),
    "sqrt int": lambda m: m.tensor([1, 4]).sqrt(),
    "sigmoid float64": lambda m: m.tensor([1.0, 2.0], dtype=m.float64).sigmoid(),
    "abs int": lambda m: m.tensor([1, -2]).abs(),
    "neg int": lambda m: -m.tensor([1, -2]),
    "clamp int with float": lambda m: m.tensor([1, 2]).clamp(0.5),
    "clamp int with ints": lambda m: m.tensor([1, 2, 5]).clamp(0, 3),
    "relu int": lambda m: m.tensor([1, -2]).relu(),
    "float32 tensor from floats": lambda m: m.tensor([1.5]),
    "int64 tensor from ints": lambda m: m.tensor([1]),
}


@pytest.mark.parametrize("name", list(PROMOTION))
def test_dtype_promotion_matches_torch(name):
    ours, theirs = PROMOTION[name](nesy), PROMOTION[name](torch)
    assert ours.dtype == theirs.numpy().dtype, f"{name}: {ours.dtype} != {theirs.dtype}"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_gradient_flows_through_promotion_to_the_float_leaf():
    w = nesy.tensor([0.5, 2.0], requires_grad=True)
    (nesy.tensor([3, 4]) * w).sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [3.0, 4.0]


# --- NaN and inf: no exception, no warning, PyTorch's values -------------------------------
NAN_CASES = {
    "log of negative and zero": (lambda m, x: m.log(x), [-1.0, 0.0, 2.0]),
    "0/0 and 1/0": (lambda m, x: x / m.tensor([0.0, 0.0, 2.0], dtype=x.dtype), [0.0, 1.0, 2.0]),
    "x/x at 0": (lambda m, x: x / x, [0.0, 1.0]),
    "sqrt of -1 and 0": (lambda m, x: m.sqrt(x), [-1.0, 0.0, 4.0]),
    "log1p of -2 and -1": (lambda m, x: m.log1p(x), [-2.0, -1.0, 1.0]),
    "negative base ** 0.5": (lambda m, x: x**0.5, [-1.0, 0.0, 4.0]),
    "0 ** -1": (lambda m, x: x**-1.0, [0.0, 2.0]),
    "exp overflow": (lambda m, x: m.exp(x), [1000.0, 1.0]),
    "nan input through ops": (lambda m, x: (m.sigmoid(x) * 2 + 1).sum(), [math.nan, 1.0]),
    "rsqrt of 0": (lambda m, x: m.rsqrt(x), [0.0, 4.0]),
    "log(0) * constant": (lambda m, x: m.log(x) * m.tensor([2.0, 0.5], dtype=x.dtype),
                          [0.0, 1.0]),
    "where(x > 0, log x, 0)": (lambda m, x: m.where(x > 0, m.log(x), 0.0), [0.0, -1.0, 2.0]),
    "clamp with a NaN bound": (lambda m, x: m.clamp(x, min=math.nan), [-1.0, 2.0]),
    "clamp of NaN": (lambda m, x: m.clamp(x, -1.0, 1.0), [math.nan, 2.0]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(NAN_CASES))
def test_nan_and_inf_match_torch_without_warnings(name, dtype, path):
    fn, values = NAN_CASES[name]
    data = np.array(values, dtype=dtype)
    t = torch.tensor(data, requires_grad=True)
    expected = fn(torch, t)
    (expected_grad,) = torch.autograd.grad(expected, t, torch.ones_like(expected))
    x = nesy.tensor(data, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(nesy, x)
        y.backward(nesy.ones_like(y))
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), expected_grad.numpy(), rtol=1e-6)


def test_reductions_of_nan_propagate_like_torch():
    data = np.array([[math.nan, 1.0], [2.0, 3.0]], dtype=np.float32)
    for name in ("amax", "amin", "sum", "logsumexp", "softmax"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = getattr(nesy.tensor(data), name)(1).numpy()
        theirs = getattr(torch.tensor(data), name)(1).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, err_msg=name)


def test_copy_copy_shares_data_and_leaves_the_graph():
    import copy

    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    twin = copy.copy(y)  # matplotlib copies what it plots
    assert twin.tolist() == [2.0, 4.0] and twin.grad_fn is None
    assert np.shares_memory(twin.detach().numpy(), y.detach().numpy())
    leaf = copy.copy(x)
    assert leaf.requires_grad and leaf is not x
