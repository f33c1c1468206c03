"""``nesy.nn.functional``: stateless layers, activations and losses, as ``torch.nn.functional``.

Everything is composed from nesy tensor ops, so gradients come from the engine. The loss
functions live in :mod:`nesy.nn.losses` and are re-exported here.

>>> import nesy
>>> import nesy.nn.functional as F
>>> F.leaky_relu(nesy.tensor([-1.0, 2.0]), 0.1).tolist()
[-0.10000000149011612, 2.0]
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np

from ..tensor import Tensor, creation
from .losses import (  # noqa: F401  (re-exported: F.cross_entropy, ...)
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)

# The package, not the function: ``nesy.tensor`` (the attribute) is the tensor constructor.
nt = importlib.import_module("nesy.tensor")


# --- activations ---------------------------------------------------------------------------
def relu(input, inplace=False):
    """max(x, 0)"""
    return nt.relu(input)


def sigmoid(input):
    """1 / (1 + e^-x)"""
    return nt.sigmoid(input)


def tanh(input):
    return nt.tanh(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x"""
    return nt.where(input > 0, input, input * negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha (e^x - 1).

    The exponential sees min(x, 0): for large x, e^x would overflow and its infinite
    derivative would turn the masked-out branch's zero gradient into NaN.
    """
    negative = (nt.exp(nt.clamp(input, max=0.0)) - 1.0) * alpha
    return nt.where(input > 0, input, negative)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    scaled = input * beta if beta != 1 else input
    smooth = nt.softplus(scaled)
    if beta != 1:
        smooth = smooth / beta
    return nt.where(scaled > threshold, input, smooth)


def logsigmoid(input):
    """log sigma(x) = -softplus(-x)"""
    return nt.log_sigmoid(input)


def _softmax_dim(ndim, dim, name):
    if dim is not None:
        return dim
    # PyTorch's legacy implicit choice, with the same warning.
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    """e^(x_i) / sum_j e^(x_j) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return nt.softmax(input, _softmax_dim(input.ndim, dim, "softmax"))


def log_softmax(input, dim=None, dtype=None):
    """x_i - log sum_j e^(x_j) along ``dim``, stable."""
    if dtype is not None:
        input = input.to(dtype)
    return nt.log_softmax(input, _softmax_dim(input.ndim, dim, "log_softmax"))


# --- layers ---------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features)."""
    out = nt.matmul(input, weight.t() if weight.ndim == 2 else weight)
    return out if bias is None else out + bias


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    Identity when not ``training``; the mask comes from nesy's seedable generator.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = creation.generator().random(input.shape) >= p
    scale = np.where(keep, 1.0 / (1.0 - p), 0.0).astype(input.dtype)
    return input * Tensor._from_op(scale, None, input.device)


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` picked by the integer tensor ``input``: out[...] = weight[input[...]].

    Rows at ``padding_idx`` are returned as stored but receive no gradient.
    """
    idx = input if isinstance(input, Tensor) else creation.tensor(input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(
            f"embedding: expected indices of an integer dtype, got {idx.dtype}"
        )
    out = weight[idx]
    if padding_idx is None or not weight.requires_grad:
        return out
    if padding_idx < 0:
        padding_idx += weight.shape[0]
    # Same values everywhere; the gradient only flows where the index is not padding.
    keep = Tensor._from_op((idx._data != padding_idx)[..., None], None, out.device)
    return nt.where(keep, out, out.detach())


def one_hot(tensor, num_classes=-1):
    """An int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each index.

    ``num_classes=-1`` takes max(tensor) + 1.
    """
    if tensor.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of an integer dtype")
    idx = tensor._data
    if idx.size and idx.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    elif idx.size and idx.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = (idx[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._from_op(out, None, tensor.device)
