"""Loss functions with PyTorch's formulas, options and reductions.

Every loss takes ``reduction`` in ``"mean"`` (default), ``"sum"`` or ``"none"``. The
class-index losses (``nll_loss``, ``cross_entropy``) take input of shape (N, C) or
(N, C, d1, ...) or (C,), and integer targets of shape (N,) or (N, d1, ...) or ();
``ignore_index`` positions add nothing and are not counted, and with class ``weight`` the
mean divides by the sum of the targets' weights.

>>> import nesy
>>> import nesy.nn.functional as F
>>> logits = nesy.tensor([[2.0, 0.0], [0.0, 2.0]])
>>> round(F.cross_entropy(logits, nesy.tensor([0, 1])).item(), 4)
0.1269
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np

from ..tensor import Tensor

# The package, not the function: ``nesy.tensor`` (the attribute) is the tensor constructor.
nt = importlib.import_module("nesy.tensor")

BCE_LOG_FLOOR = -100.0  # PyTorch clamps log(x) and log(1 - x) here in binary_cross_entropy
_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction):
    if reduction == "mean":
        return nt.mean(loss)
    if reduction == "sum":
        return nt.sum(loss)
    return loss


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _constant(array, like):
    return Tensor._from_op(np.asarray(array), None, like.device)


# --- regression -----------------------------------------------------------------------------
def _check_broadcast(input, target):
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def mse_loss(input, target, reduction="mean"):
    """l_i = (x_i - y_i)^2"""
    _check_reduction(reduction)
    _check_broadcast(input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    """l_i = |x_i - y_i|"""
    _check_reduction(reduction)
    _check_broadcast(input, target)
    return _reduce(nt.abs(input - target), reduction)


# --- binary -----------------------------------------------------------------------------------
def _floored_log(x):
    """max(log x, -100), with a zero (not NaN) gradient where x = 0.

    log(0) = -inf and its derivative 1/0 would meet the clamp's zero as 0 * inf = NaN; the
    log therefore sees 1 where x = 0 and the floor is selected by a mask instead.
    """
    positive = x > 0
    safe = nt.log(nt.where(positive, x, 1.0))
    return nt.clamp(nt.where(positive, safe, BCE_LOG_FLOOR), min=BCE_LOG_FLOOR)


def _check_same_size(input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}) is deprecated. Please ensure they have the same size."
        )


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """l_i = -w_i [y_i max(log x_i, -100) + (1 - y_i) max(log(1 - x_i), -100)]

    ``input`` holds probabilities in [0, 1] (apply a sigmoid first, or use
    :func:`binary_cross_entropy_with_logits`, which is stable).
    """
    _check_reduction(reduction)
    _check_same_size(input, target)
    x = input._data
    if x.size and not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = -(target * _floored_log(input) + (1.0 - target) * _floored_log(1.0 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """l_i = -w_i [p y_i log sigma(x_i) + (1 - y_i) log(1 - sigma(x_i))], p = pos_weight

    computed stably as (1 - y) x + (1 + (p - 1) y) softplus(-x).
    """
    _check_reduction(reduction)
    _check_same_size(input, target)
    log_term = nt.softplus(-input)  # -log sigma(x), no overflow for any x
    if pos_weight is not None:
        log_term = log_term * ((pos_weight - 1.0) * target + 1.0)
    loss = (1.0 - target) * input + log_term
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# --- class indices ------------------------------------------------------------------------
def _as_batch(input, target):
    """(C,) input with a () target becomes a batch of one; say whether to undo it."""
    if input.ndim == 1:
        if target.ndim != 0:
            raise ValueError(
                f"Expected a 0-D target for 1-D input, got target of shape {tuple(target.shape)}"
            )
        return nt.unsqueeze(input, 0), nt.unsqueeze(target, 0), True
    return input, target, False


def _check_targets(input, target, ignore_index):
    """Validate class-index targets; return the mask of ignored positions, or None if none."""
    if target.dtype.kind not in "iu":
        raise RuntimeError(
            f"expected class-index targets of an integer dtype, got {target.dtype}; for class "
            "probabilities pass a float target of the input's shape to cross_entropy"
        )
    n, c = input.shape[0], input.shape[1]
    expected = (n,) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"Expected target of shape {expected} for input of shape {tuple(input.shape)}, "
            f"got {tuple(target.shape)}"
        )
    t = target._data
    if t.size == 0:
        return None
    lo, hi = t.min(), t.max()
    if 0 <= lo and hi < c and not 0 <= ignore_index < c:
        return None  # the common case, settled by two reductions instead of five passes
    ignored = t == ignore_index
    bad = ~ignored & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
    return ignored if ignored.any() else None


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """l_i = -w[y_i] x[i, y_i]; "mean" divides the sum by sum_i w[y_i] (ignored i excluded).

    ``input`` holds log-probabilities (e.g. from ``log_softmax``).
    """
    _check_reduction(reduction)
    input, target, unbatched = _as_batch(input, target)
    ignored = _check_targets(input, target, ignore_index)
    masked = ignored is not None  # the mask ops are skipped in the common case
    t = target._data
    safe = np.where(ignored, 0, t) if masked else t  # class 0 stands in, masked out below
    picked = nt.squeeze(nt.gather(input, 1, np.expand_dims(safe, 1)), 1)
    keep = _constant(~ignored, input) if masked else None
    if masked:
        picked = nt.where(keep, picked, 0.0)  # not 0 * x: x may be -inf at an ignored slot
    w = None if weight is None else weight[_constant(safe, input)]
    if masked:
        w = nt.cast(keep, input.dtype) if w is None else nt.where(keep, w, 0.0)
    loss = -picked if w is None else -picked * w
    if reduction == "none":
        return nt.squeeze(loss, 0) if unbatched else loss
    if reduction == "sum":
        return nt.sum(loss)
    return nt.mean(loss) if w is None else nt.sum(loss) / nt.sum(w)


def _class_weight_shape(weight, ndim):
    """(C,) -> (1, C, 1, ...) to broadcast over an (N, C, d1, ...) input."""
    return nt.reshape(weight, (1, -1) + (1,) * (ndim - 2))


def _smoothing_term(logp, target, weight, ignore_index, reduction):
    """PyTorch's label-smoothing part: -sum_c w_c log p_c per sample, reduced like nll_loss."""
    per_class = logp if weight is None else logp * _class_weight_shape(weight, logp.ndim)
    smooth = -nt.sum(per_class, 1)
    ignored = target._data == ignore_index
    keep = _constant(~ignored, logp)
    if ignored.any():
        smooth = nt.where(keep, smooth, 0.0)
    if reduction == "none":
        return smooth
    if reduction == "sum":
        return nt.sum(smooth)
    if weight is None:
        return nt.sum(smooth) / float((~ignored).sum())
    safe = np.where(ignored, 0, target._data)
    return nt.sum(smooth) / nt.sum(nt.where(keep, weight[_constant(safe, logp)], 0.0))


def _cross_entropy_probabilities(logp, target, weight, reduction, label_smoothing):
    """Soft targets: l_i = -sum_c w_c y_ic log p_ic; "mean" divides by N * d1 * ..."""
    if tuple(target.shape) != tuple(logp.shape):
        raise ValueError(
            f"Expected class-probability target of the input's shape {tuple(logp.shape)}, "
            f"got {tuple(target.shape)}"
        )
    n_classes = logp.shape[1]
    if label_smoothing > 0:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
    terms = logp * target
    if weight is not None:
        terms = terms * _class_weight_shape(weight, logp.ndim)
    loss = -nt.sum(terms, 1)
    if reduction == "mean":
        return nt.sum(loss) / float(logp.numel() // n_classes)  # N * d1 * ..., not sum of w
    return _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """nll_loss(log_softmax(x, 1), y), with optional label smoothing e:

    loss = (1 - e) nll + (e / C) sum_c -w_c log p_c, each part reduced as nll_loss.
    A float ``target`` of the input's shape is read as class probabilities instead.
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if target.dtype.kind == "f":
        unbatched = input.ndim == 1
        x, y = (nt.unsqueeze(input, 0), nt.unsqueeze(target, 0)) if unbatched else (input, target)
    else:
        x, y, unbatched = _as_batch(input, target)
    logp = nt.log_softmax(x, 1)
    if y.dtype.kind == "f":
        loss = _cross_entropy_probabilities(logp, y, weight, reduction, label_smoothing)
    else:
        loss = nll_loss(logp, y, weight, ignore_index, reduction)
        if label_smoothing > 0:
            smooth = _smoothing_term(logp, y, weight, ignore_index, reduction)
            loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / logp.shape[1])
    return nt.squeeze(loss, 0) if unbatched and reduction == "none" else loss
