"""Loss functions against PyTorch (values and input gradients) and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import nesy
import nesy.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]
rng = np.random.default_rng(0)


def both(array, requires_grad=False):
    """The same values as a nesy tensor and a torch tensor (each a fresh leaf)."""
    a = np.array(array)
    return (nesy.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def check(ours, theirs, inputs, rtol=1e-5, atol=1e-6):
    """Same value, and the same gradient for every (nesy, torch) input pair."""
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol, atol)
    seed = rng.standard_normal(theirs.shape).astype(np.float32)
    ours.backward(nesy.tensor(seed).to(ours.dtype))
    theirs.backward(torch.tensor(seed).to(theirs.dtype))
    for a, b in inputs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol, atol)


# --- regression -----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(name, reduction):
    x, tx = both(rng.standard_normal((4, 3)).astype(np.float32), True)
    y, ty = both(rng.standard_normal((4, 3)).astype(np.float32), True)
    out = getattr(F, name)(x, y, reduction=reduction)
    ref = getattr(TF, name)(tx, ty, reduction=reduction)
    check(out, ref, [(x, tx), (y, ty)])


def test_mse_hand_value():
    out = F.mse_loss(nesy.tensor([1.0, 2.0]), nesy.tensor([0.0, 4.0]))
    assert out.item() == pytest.approx((1 + 4) / 2)


def test_invalid_reduction_is_rejected():
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(nesy.ones(2), nesy.ones(2), reduction="avg")


# --- binary ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted):
    x, tx = both(rng.uniform(0.02, 0.98, (5, 3)).astype(np.float32), True)
    y, ty = both(rng.uniform(0, 1, (5, 3)).astype(np.float32), True)
    w, tw = both(rng.uniform(0.5, 2, (3,)).astype(np.float32)) if weighted else (None, None)
    out = F.binary_cross_entropy(x, y, weight=w, reduction=reduction)
    ref = TF.binary_cross_entropy(tx, ty, weight=tw, reduction=reduction)
    check(out, ref, [(x, tx), (y, ty)])


def test_binary_cross_entropy_clamps_log_at_minus_100():
    x, tx = both(np.array([0.0, 1.0, 0.0, 1.0], np.float32), True)
    y, ty = both(np.array([1.0, 0.0, 0.0, 1.0], np.float32))
    out = F.binary_cross_entropy(x, y, reduction="none")
    ref = TF.binary_cross_entropy(tx, ty, reduction="none")
    np.testing.assert_array_equal(out.detach().numpy(), [100.0, 100.0, 0.0, 0.0])
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()  # no 0 * inf at the clamped log


def test_binary_cross_entropy_checks_range_and_shape():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(nesy.tensor([1.5]), nesy.tensor([1.0]))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(nesy.tensor([0.5, 0.5]), nesy.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_matches_torch(reduction, weighted, pos_weighted):
    x, tx = both((rng.standard_normal((6, 3)) * 5).astype(np.float32), True)
    y, ty = both(rng.uniform(0, 1, (6, 3)).astype(np.float32), True)
    w, tw = both(rng.uniform(0.5, 2, (6, 1)).astype(np.float32)) if weighted else (None, None)
    pw, tpw = both(rng.uniform(0.5, 3, (3,)).astype(np.float32)) if pos_weighted else (None, None)
    out = F.binary_cross_entropy_with_logits(x, y, w, reduction, pos_weight=pw)
    ref = TF.binary_cross_entropy_with_logits(tx, ty, tw, reduction=reduction, pos_weight=tpw)
    check(out, ref, [(x, tx), (y, ty)])


def test_bce_with_logits_is_stable_for_huge_logits():
    x, tx = both(np.array([-200.0, 200.0, -200.0, 200.0], np.float32), True)
    y, ty = both(np.array([1.0, 0.0, 0.0, 1.0], np.float32))
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(out.detach().numpy(), [200.0, 200.0, 0.0, 0.0])
    check(out, TF.binary_cross_entropy_with_logits(tx, ty, reduction="none"), [(x, tx)])


# --- class indices ------------------------------------------------------------------------
def _classification(shape=(6, 4), extra=(), ignore=None):
    n, c = shape
    logits = rng.standard_normal((n, c) + extra).astype(np.float32)
    target = rng.integers(0, c, (n,) + extra)
    if ignore is not None:
        target.reshape(-1)[::3] = ignore
    return logits, target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, -100, 2])
@pytest.mark.parametrize("extra", [(), (3,)])
def test_nll_loss_matches_torch(reduction, weighted, ignore, extra):
    logits, target = _classification(extra=extra, ignore=ignore)
    x, tx = both(logits, True)
    y, ty = both(target)
    w, tw = both(rng.uniform(0.5, 2, 4).astype(np.float32)) if weighted else (None, None)
    kw = {} if ignore is None else {"ignore_index": ignore}
    out = F.nll_loss(x, y, weight=w, reduction=reduction, **kw)
    ref = TF.nll_loss(tx, ty, weight=tw, reduction=reduction, **kw)
    check(out, ref, [(x, tx)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 1])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("extra", [(), (2,)])
def test_cross_entropy_matches_torch(reduction, weighted, ignore, smoothing, extra):
    logits, target = _classification(extra=extra, ignore=ignore)
    x, tx = both(logits * 3, True)
    y, ty = both(target)
    w, tw = both(rng.uniform(0.5, 2, 4).astype(np.float32)) if weighted else (None, None)
    kw = {} if ignore is None else {"ignore_index": ignore}
    out = F.cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=smoothing, **kw)
    ref = TF.cross_entropy(tx, ty, weight=tw, reduction=reduction, label_smoothing=smoothing,
                           **kw)
    check(out, ref, [(x, tx)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_probability_targets_matches_torch(reduction, weighted, smoothing):
    x, tx = both(rng.standard_normal((5, 4)).astype(np.float32), True)
    probs = rng.dirichlet(np.ones(4), 5).astype(np.float32)
    y, ty = both(probs, True)
    w, tw = both(rng.uniform(0.5, 2, 4).astype(np.float32)) if weighted else (None, None)
    out = F.cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=smoothing)
    ref = TF.cross_entropy(tx, ty, weight=tw, reduction=reduction, label_smoothing=smoothing)
    check(out, ref, [(x, tx), (y, ty)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_of_one_unbatched_sample(reduction):
    x, tx = both(rng.standard_normal(5).astype(np.float32), True)
    y, ty = both(np.array(3))
    out = F.cross_entropy(x, y, reduction=reduction)
    ref = TF.cross_entropy(tx, ty, reduction=reduction)
    assert out.shape == tuple(ref.shape)
    check(out, ref, [(x, tx)])


def test_cross_entropy_hand_value():
    # -log(e^2 / (e^2 + e^0)) = log(1 + e^-2)
    out = F.cross_entropy(nesy.tensor([[2.0, 0.0]]), nesy.tensor([0]))
    assert out.item() == pytest.approx(np.log1p(np.exp(-2.0)), rel=1e-6)


def test_nll_loss_all_ignored_mean_is_nan_like_torch():
    x, tx = both(rng.standard_normal((2, 3)).astype(np.float32))
    y, ty = both(np.array([-100, -100]))
    assert np.isnan(F.nll_loss(x, y).item()) and np.isnan(TF.nll_loss(tx, ty).item())


def test_class_index_errors():
    x = nesy.zeros(2, 3)
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.cross_entropy(x, nesy.tensor([0, 3]))
    with pytest.raises(ValueError, match="Expected target of shape"):
        F.nll_loss(x, nesy.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, nesy.tensor([0, 1]), label_smoothing=1.5)


# --- finite differences (float64) ------------------------------------------------------
def f64(shape, low=None, high=None):
    data = rng.uniform(low, high, shape) if low is not None else rng.standard_normal(shape)
    return nesy.tensor(data, dtype=nesy.float64, requires_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_regression_and_binary_losses(reduction):
    target = nesy.tensor(rng.uniform(0.1, 0.9, (3, 2)), dtype=nesy.float64)
    weight = nesy.tensor(rng.uniform(0.5, 2, (2,)), dtype=nesy.float64)
    assert nesy.gradcheck(lambda x: F.mse_loss(x, target, reduction=reduction), f64((3, 2)))
    x = nesy.tensor([[0.5, -1.2], [2.0, 0.3], [-0.7, 1.1]], dtype=nesy.float64,
                    requires_grad=True)  # away from the kink of |x - y|
    assert nesy.gradcheck(lambda x: F.l1_loss(x, target, reduction=reduction), x)
    assert nesy.gradcheck(
        lambda p: F.binary_cross_entropy(p, target, weight, reduction), f64((3, 2), 0.05, 0.95)
    )
    pos = nesy.tensor([2.0, 0.5], dtype=nesy.float64)
    assert nesy.gradcheck(
        lambda z: F.binary_cross_entropy_with_logits(z, target, weight, reduction, pos_weight=pos),
        f64((3, 2)),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_class_index_losses(reduction):
    target = nesy.tensor([0, 2, -100, 1])
    weight = nesy.tensor([0.5, 1.5, 2.0], dtype=nesy.float64)
    assert nesy.gradcheck(lambda x: F.nll_loss(x, target, weight, reduction=reduction),
                          f64((4, 3)))
    assert nesy.gradcheck(
        lambda x: F.cross_entropy(x, target, weight, reduction=reduction, label_smoothing=0.1),
        f64((4, 3)),
    )
    probs = nesy.tensor(rng.dirichlet(np.ones(3), 4), dtype=nesy.float64)
    assert nesy.gradcheck(lambda x: F.cross_entropy(x, probs, reduction=reduction),
                          f64((4, 3)))


# --- loss modules ---------------------------------------------------------------------------
def test_loss_modules_match_functional():
    x, y = nesy.randn(4, 3), nesy.tensor([0, 2, 1, 2])
    w = nesy.tensor([1.0, 2.0, 0.5])
    module = nesy.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    assert module(x, y).item() == pytest.approx(
        F.cross_entropy(x, y, w, label_smoothing=0.1).item())
    assert "weight" in module.state_dict()
    assert repr(module) == repr(torch.nn.CrossEntropyLoss())
    p, t = nesy.rand(4), nesy.rand(4)
    assert nesy.nn.MSELoss(reduction="sum")(p, t).item() == pytest.approx(
        F.mse_loss(p, t, reduction="sum").item())
    assert nesy.nn.BCELoss()(p, t).item() == pytest.approx(F.binary_cross_entropy(p, t).item())
