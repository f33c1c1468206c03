"""``nesy.tensor``: a reverse-mode autograd engine over NumPy arrays, PyTorch-like to use.

Everything public here is re-exported at ``nesy.*``; see the README's tour.
"""

from . import api as _api
from .api import (
    abs,
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    broadcast_to,
    cast,
    cat,
    clamp,
    clone,
    div,
    dot,
    einsum,
    eq,
    equal,
    exp,
    expand,
    flatten,
    gather,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    log,
    log1p,
    log_sigmoid,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    norm,
    outer,
    permute,
    pow,
    prod,
    reciprocal,
    relu,
    reshape,
    rsqrt,
    sigmoid,
    sign,
    softmax,
    softplus,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    sum,
    t,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .autograd import grad
from .creation import (
    arange,
    as_tensor,
    device,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    generator,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .device import Device
from .dtypes import (
    bool_,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .methods import bind_methods as _bind_methods
from .tensor import Tensor

_bind_methods()
concat = cat
clip = clamp
floor, ceil, round = _api.floor, _api.ceil, _api.round

import types as _types

from . import autograd  # noqa: E402  (nesy.autograd.grad, as torch.autograd.grad)

__all__ = [
    _n for _n, _v in dict(globals()).items()
    if not _n.startswith("_") and not isinstance(_v, _types.ModuleType)
] + ["autograd"]
