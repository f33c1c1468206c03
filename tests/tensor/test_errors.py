"""Bad inputs give clear errors that name the op and the shapes (or dims, or devices)."""

import re

import numpy as np
import pytest

import nesy
from nesy.tensor import backends
from nesy.tensor.backends.cpu import CpuBackend


def _shapes(*shapes):
    """A pattern matching each shape as written in messages, in order: '(2, 3).*(4,)'."""
    return ".*".join(re.escape(str(tuple(s))) for s in shapes)


# --- broadcasting ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a**b),
    ("maximum", nesy.maximum),
    ("minimum", nesy.minimum),
    ("add", lambda a, b: a + b.double()),  # after promotion too
])
def test_broadcast_mismatch_names_op_and_shapes(name, fn):
    a, b = nesy.ones(2, 3, requires_grad=True), nesy.ones(4)
    with pytest.raises(RuntimeError, match=f"{name}: shapes {_shapes((2, 3), (4,))}.*broadcast"):
        fn(a, b)


def test_where_broadcast_mismatch():
    with pytest.raises(RuntimeError, match=f"where: shapes {_shapes((2, 3), (2, 3), (4,))}"):
        nesy.where(nesy.ones(2, 3) > 0, nesy.ones(2, 3), nesy.ones(4))


def test_comparison_broadcast_mismatch():
    with pytest.raises(RuntimeError, match=f"lt: shapes {_shapes((2, 3), (4,))}"):
        nesy.lt(nesy.ones(2, 3), nesy.ones(4))


# --- matmul and einsum -------------------------------------------------------------------------
@pytest.mark.parametrize("a, b, detail", [
    ((2, 3), (4, 5), r"cannot be multiplied \(3 != 4\)"),
    ((3,), (4,), r"cannot be multiplied \(3 != 4\)"),
    ((2, 3), (2,), r"cannot be multiplied \(3 != 2\)"),
    ((2, 3, 4), (3, 4, 5), "do not broadcast"),
])
def test_matmul_shape_mismatch(a, b, detail):
    with pytest.raises(RuntimeError, match=f"matmul: .*{_shapes(a, b)}.*{detail}"):
        nesy.ones(*a) @ nesy.ones(*b)


def test_matmul_of_a_0d_tensor():
    with pytest.raises(RuntimeError, match="matmul: .*at least 1 dimension"):
        nesy.matmul(nesy.tensor(2.0), nesy.ones(3))


def test_einsum_errors():
    with pytest.raises(RuntimeError, match=f"einsum: 'ij,jk->ik' .*{_shapes((2, 3), (4, 5))}"):
        nesy.einsum("ij,jk->ik", nesy.ones(2, 3), nesy.ones(4, 5))
    with pytest.raises(RuntimeError, match="einsum: .*names 2 operands but 1 were given"):
        nesy.einsum("ij,jk->ik", nesy.ones(2, 3))
    with pytest.raises(RuntimeError, match="einsum: subscripts 'ijk' .*2 dimensions"):
        nesy.einsum("ijk->i", nesy.ones(2, 3))


# --- backward ----------------------------------------------------------------------------------
def test_non_scalar_backward_without_gradient():
    y = nesy.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"backward: .*scalar outputs.*shape \(2, 3\)"):
        y.backward()


def test_backward_gradient_of_the_wrong_shape():
    y = nesy.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=f"backward: gradient has shape {_shapes((3,), (2,))}"):
        y.backward(nesy.ones(3))


# --- indices and dims --------------------------------------------------------------------------
@pytest.mark.parametrize("index, detail", [
    (5, "index 5 is out of bounds for axis 0 with size 2"),
    ((0, 3), "index 3 is out of bounds for axis 1 with size 3"),
    ((-3,), "index -3 is out of bounds for axis 0 with size 2"),
    ([0, 7], "index 7 is out of bounds"),
    ((0, 0, 0), "too many indices"),
])
def test_out_of_range_index(index, detail):
    with pytest.raises(IndexError, match=f"index: {detail}.*shape {_shapes((2, 3))}"):
        nesy.ones(2, 3, requires_grad=True)[index]


def test_mismatched_boolean_mask():
    with pytest.raises(IndexError, match=f"boolean index did not match.*shape {_shapes((2, 3))}"):
        nesy.ones(2, 3)[nesy.tensor([True, False, True])]


def test_float_tensor_as_index():
    with pytest.raises(IndexError, match="indices must be integer or bool, not float32"):
        nesy.ones(2, 3)[nesy.tensor([0.0])]


@pytest.mark.parametrize("name, fn, dim", [
    ("sum", lambda x, d: x.sum(d), 2),
    ("mean", lambda x, d: x.mean(d), -3),
    ("amax", lambda x, d: x.amax((0, d)), 3),
    ("logsumexp", lambda x, d: x.logsumexp(d), -4),
    ("softmax", lambda x, d: x.softmax(d), 2),
    ("log_softmax", lambda x, d: x.log_softmax(d), -3),
    ("max", lambda x, d: x.max(dim=d), 5),
    ("argmin", lambda x, d: x.argmin(d), 2),
    ("var", lambda x, d: x.var(d), 2),
    ("squeeze", lambda x, d: x.squeeze(d), 2),
    ("transpose", lambda x, d: x.transpose(0, d), 2),
    ("permute", lambda x, d: x.permute(0, d), 2),
    ("flatten", lambda x, d: x.flatten(d), 2),
    ("cat", lambda x, d: nesy.cat([x, x], d), 2),
    ("gather", lambda x, d: nesy.gather(x, d, nesy.tensor([[0]])), 2),
])
def test_out_of_range_dim(name, fn, dim):
    x = nesy.ones(2, 3, requires_grad=True)
    with pytest.raises(IndexError, match=rf"{name}: dimension {dim} out of range for a tensor "
                                         r"with 2 dimensions \(expected in \[-2, 1\]\)"):
        fn(x, dim)


@pytest.mark.parametrize("name, fn, dim", [
    ("unsqueeze", lambda x, d: x.unsqueeze(d), 3),
    ("stack", lambda x, d: nesy.stack([x, x], d), -4),
])
def test_out_of_range_dim_for_new_axis(name, fn, dim):
    with pytest.raises(IndexError, match=rf"{name}: dimension {dim} out of range \[-3, 2\]"):
        fn(nesy.ones(2, 3), dim)


def test_empty_reduction_of_max():
    with pytest.raises(RuntimeError, match=f"amax\\(\\): .*non-empty.*shape {_shapes((2, 0))}"):
        nesy.ones(2, 0).amax(1)
    with pytest.raises(RuntimeError, match=f"max\\(\\): .*non-empty.*shape {_shapes((2, 0))}"):
        nesy.ones(2, 0).max(dim=1)


# --- dtypes ------------------------------------------------------------------------------------
def test_requires_grad_on_int_dtype():
    with pytest.raises(RuntimeError, match="floating point dtype can require gradients, got int64"):
        nesy.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point dtype.*got int32"):
        nesy.zeros(2, dtype=nesy.int32, requires_grad=True)


def test_unknown_dtype_name():
    with pytest.raises(TypeError, match="unknown dtype 'float128'"):
        nesy.ones(2, dtype="float128")


# --- joining and reshaping ---------------------------------------------------------------------
def test_cat_of_mismatched_shapes():
    with pytest.raises(RuntimeError, match=f"cat: tensor 1 has shape {_shapes((2, 4), (2, 3))}"
                                           " outside dim 0"):
        nesy.cat([nesy.ones(2, 3), nesy.ones(2, 4)])
    with pytest.raises(RuntimeError, match=f"cat: tensor 1 has shape {_shapes((3,), (2, 3))}"):
        nesy.cat([nesy.ones(2, 3), nesy.ones(3)])


def test_cat_of_nothing_or_0d():
    with pytest.raises(RuntimeError, match="cat: expected a non-empty list"):
        nesy.cat([])
    with pytest.raises(RuntimeError, match="cat: zero-dimensional"):
        nesy.cat([nesy.tensor(1.0), nesy.tensor(2.0)])


def test_stack_of_mismatched_shapes():
    with pytest.raises(RuntimeError, match=f"stack: .*equal size.*{_shapes((2, 3), (2, 4))}"
                                           ".*entry 1"):
        nesy.stack([nesy.ones(2, 3), nesy.ones(2, 4)])


@pytest.mark.parametrize("target", [(4, 2), (4, -1), (5,)])
def test_reshape_to_a_wrong_size(target):
    with pytest.raises(RuntimeError, match=f"reshape: shape {_shapes(target)} is invalid for "
                                           rf"input of shape \(2, 3\) \(6 elements\)"):
        nesy.ones(2, 3).reshape(target)


def test_view_to_a_wrong_size():
    with pytest.raises(RuntimeError, match=r"shape \(5,\) is invalid.*\(2, 3\)"):
        nesy.ones(2, 3).view(5)


def test_expand_errors():
    with pytest.raises(RuntimeError, match=f"expand: cannot expand .*{_shapes((2, 3), (4, 3))}"):
        nesy.ones(2, 3).expand(4, 3)
    with pytest.raises(RuntimeError, match=f"expand: target {_shapes((3,))} has fewer dims"):
        nesy.ones(2, 3).expand(3)


def test_permute_with_a_repeated_dim():
    with pytest.raises(RuntimeError, match=r"permute: repeated dim in \(0, 0\)"):
        nesy.ones(2, 3).permute(0, 0)


# --- devices -----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: nesy.ones(2, device="cuda"),
    lambda: nesy.tensor([1.0], device="cuda:0"),
    lambda: nesy.zeros(2, 2, device=nesy.device("cuda")),
    lambda: nesy.ones(2).to("cuda"),
    lambda: nesy.ones(2, requires_grad=True).cuda(),
])
@pytest.mark.skipif(nesy.cuda.is_available(), reason="a GPU (or the simulator) is present")
def test_cuda_without_a_gpu_is_a_clear_error(make):
    with pytest.raises(RuntimeError, match=r"device 'cuda(:0)?' is not available.*device='cpu'"):
        make()


def test_unknown_device_type():
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        nesy.ones(2, device="tpu")


class _FakeGpu(CpuBackend):
    """A CPU backend registered under 'cuda', to test device checks without a GPU."""

    name = "cuda"


@pytest.fixture
def fake_cuda():
    previous = backends._FACTORIES.get("cuda")
    backends.register_backend("cuda", _FakeGpu)
    yield
    backends.register_backend("cuda", previous)  # also drops the fake's cached instances
    if previous is None:
        del backends._FACTORIES["cuda"]


@pytest.mark.parametrize("fn", [
    lambda a, b: a + b,
    lambda a, b: a * b,
    lambda a, b: nesy.where(a > 0, a, b),
    lambda a, b: a @ b,
])
def test_mixing_devices_is_a_clear_error(fake_cuda, fn):
    a = nesy.ones(2, requires_grad=True)
    b = nesy.ones(2, device="cuda")
    assert b.device == "cuda"
    with pytest.raises(RuntimeError, match="expected all tensors on the same device, found "
                                           "(cpu and cuda|cuda and cpu)"):
        fn(a, b)


@pytest.mark.skipif(nesy.cuda.is_available(), reason="a GPU (or the simulator) is present")
def test_fake_cuda_is_gone_after_the_fixture():
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        nesy.ones(1, device="cuda")


# --- misc ------------------------------------------------------------------------------------
def test_item_and_bool_of_several_elements():
    with pytest.raises(RuntimeError, match="2 elements cannot be converted"):
        nesy.ones(2).item()
    with pytest.raises(RuntimeError, match="truth value of a tensor with 2 elements"):
        bool(nesy.ones(2))


def test_numpy_of_a_tensor_requiring_grad():
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        nesy.ones(2, requires_grad=True).numpy()


def test_in_place_change_of_a_leaf_requiring_grad():
    x = nesy.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x.zero_()
    with pytest.raises(RuntimeError, match="in-place assignment"):
        x[0] = 3.0
    with nesy.no_grad():
        x[0] = 3.0
    np.testing.assert_array_equal(x.detach().numpy(), [3.0, 1.0])


def test_autograd_grad_of_an_input_not_requiring_grad():
    y = (nesy.ones(2, requires_grad=True) * 2).sum()
    with pytest.raises(RuntimeError, match="every input must require grad"):
        nesy.autograd.grad(y, nesy.ones(2))


def test_gradcheck_needs_float64():
    with pytest.raises(ValueError, match="gradcheck: input 0 is float32.*float64"):
        nesy.gradcheck(lambda x: x * 2, nesy.ones(2, requires_grad=True))


def test_gradcheck_catches_a_wrong_gradient():
    Wrong = type("Wrong", (nesy.Function,), {
        "forward": staticmethod(lambda ctx, x: x * x),
        "backward": staticmethod(lambda ctx, g: g),  # should be 2 x g
    })
    x = nesy.tensor([1.0, 2.0], dtype=nesy.float64, requires_grad=True)
    with pytest.raises(AssertionError, match="Jacobian mismatch"):
        nesy.gradcheck(Wrong.apply, x)
