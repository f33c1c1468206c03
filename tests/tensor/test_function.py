"""User-defined ``nesy.Function``: the context API, several inputs and outputs, gradcheck.

The same forward/backward definitions are also made into ``torch.autograd.Function``
subclasses, and both are compared on the same inputs.
"""

import numpy as np
import pytest
import torch

import nesy


def _cube_forward(ctx, x):
    ctx.save_for_backward(x)
    return x**3


def _cube_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return grad * 3 * x**2


def _scaled_mul_forward(ctx, a, b, alpha):
    """a * b * alpha; ``alpha`` is a plain number, not a tensor."""
    ctx.save_for_backward(a, b)
    ctx.alpha = alpha
    return a * b * alpha


def _scaled_mul_backward(ctx, grad):
    a, b = ctx.saved_tensors
    need_a, need_b, need_alpha = ctx.needs_input_grad
    assert not need_alpha  # a Python number never needs a gradient
    ga = grad * b * ctx.alpha if need_a else None
    gb = grad * a * ctx.alpha if need_b else None
    return ga, gb, None


def _square_and_exp_forward(ctx, x):
    """Two outputs: x^2 and e^x."""
    e = x.exp()
    ctx.save_for_backward(x, e)
    return x * x, e


def _square_and_exp_backward(ctx, g_square, g_exp):
    x, e = ctx.saved_tensors
    return g_square * 2 * x + g_exp * e


def _make(name, base, forward, backward):
    return type(name, (base,), {"forward": staticmethod(forward),
                                "backward": staticmethod(backward)})


def _pair(name, forward, backward):
    return (_make(name, nesy.Function, forward, backward),
            _make(name, torch.autograd.Function, forward, backward))


Cube, TorchCube = _pair("Cube", _cube_forward, _cube_backward)
ScaledMul, TorchScaledMul = _pair("ScaledMul", _scaled_mul_forward, _scaled_mul_backward)
SquareAndExp, TorchSquareAndExp = _pair("SquareAndExp", _square_and_exp_forward,
                                        _square_and_exp_backward)


def _inputs(*shapes, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-2, 2, s).astype(dtype) for s in shapes]
    return ([nesy.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def test_single_input_function_matches_torch():
    (x,), (t,) = _inputs((3, 4))
    y, ty = Cube.apply(x), TorchCube.apply(t)
    assert y.grad_fn is not None
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_single_input_function_gradcheck():
    (x,), _ = _inputs((2, 3), seed=1)
    assert nesy.gradcheck(Cube.apply, x)


def test_function_inside_a_larger_graph():
    (x,), (t,) = _inputs((4,), seed=2)
    (Cube.apply(x.sigmoid()) * 2).sum().backward()
    (TorchCube.apply(t.sigmoid()) * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_several_inputs_and_a_non_tensor_argument():
    (a, b), (ta, tb) = _inputs((2, 3), (2, 3), seed=3)
    y, ty = ScaledMul.apply(a, b, 1.5), TorchScaledMul.apply(ta, tb, 1.5)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    assert nesy.gradcheck(lambda a, b: ScaledMul.apply(a, b, -0.5), a, b)


def test_needs_input_grad_reflects_which_inputs_require_grad():
    seen = []

    def backward(ctx, grad):
        seen.append(tuple(ctx.needs_input_grad))
        return _scaled_mul_backward(ctx, grad)

    Spy = _make("Spy", nesy.Function, _scaled_mul_forward, backward)
    a = nesy.tensor([1.0, 2.0], requires_grad=True)
    b = nesy.tensor([3.0, 4.0])  # a constant
    Spy.apply(a, b, 2.0).sum().backward()
    assert seen == [(True, False, False)]
    assert a.grad.tolist() == [6.0, 8.0] and b.grad is None


def test_broadcast_input_gets_its_gradient_summed_back():
    Add = _make("Add", nesy.Function, lambda ctx, x, bias: x + bias,
                lambda ctx, g: (g, g))
    x = nesy.ones(3, 2, requires_grad=True)
    bias = nesy.tensor([1.0, 2.0], requires_grad=True)
    Add.apply(x, bias).sum().backward()
    assert bias.grad.tolist() == [3.0, 3.0] and x.grad.tolist() == [[1.0, 1.0]] * 3


def test_multiple_outputs_match_torch():
    (x,), (t,) = _inputs((5,), seed=4)
    sq, e = SquareAndExp.apply(x)
    tsq, te = TorchSquareAndExp.apply(t)
    np.testing.assert_allclose(sq.detach().numpy(), tsq.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(e.detach().numpy(), te.detach().numpy(), rtol=1e-12)
    (sq.sum() + (e * 3).sum()).backward()
    (tsq.sum() + (te * 3).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_multiple_outputs_with_only_one_used():
    (x,), (t,) = _inputs((5,), seed=5)
    SquareAndExp.apply(x)[1].sum().backward()  # the unused output's gradient counts as zero
    TorchSquareAndExp.apply(t)[1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_multiple_outputs_gradcheck():
    (x,), _ = _inputs((2, 2), seed=6)
    assert nesy.gradcheck(SquareAndExp.apply, x)


def test_integer_output_is_not_differentiable():
    ArgmaxAndDouble = _make("ArgmaxAndDouble", nesy.Function,
                            lambda ctx, x: (x.argmax(), x * 2), lambda ctx, gi, gd: gd * 2)
    x = nesy.tensor([1.0, 3.0, 2.0], requires_grad=True)
    index, doubled = ArgmaxAndDouble.apply(x)
    assert not index.requires_grad and index.item() == 1
    doubled.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_function_under_no_grad_records_nothing():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    with nesy.no_grad():
        y = Cube.apply(x)
    assert not y.requires_grad and y.grad_fn is None


def test_forward_runs_without_recording_inside():
    inner = []

    def forward(ctx, x):
        y = x * 2
        inner.append(y.requires_grad)
        return y

    Double = _make("Double", nesy.Function, forward, lambda ctx, g: g * 2)
    Double.apply(nesy.tensor([1.0], requires_grad=True))
    assert inner == [False]


def test_wrong_number_of_gradients_is_a_clear_error():
    Bad = _make("Bad", nesy.Function, _scaled_mul_forward, lambda ctx, g: g)
    a = nesy.tensor([1.0], requires_grad=True)
    y = Bad.apply(a, nesy.tensor([2.0]), 1.0)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned 1 gradients, expected 3"):
        y.sum().backward()


def test_saved_tensors_are_freed_after_backward():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_keeps_saved_tensors():
    x = nesy.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [6.0, 24.0]  # 2 * 3x^2
