"""The primitive operations: one :class:`Function` each, with a hand-written backward.

Everything else (mean, softmax-based losses, t-norms, p-means, ...) is composed from these
in :mod:`nesy.tensor.tensor` and gets its gradient for free. Forward and backward work on
backend arrays (``raw = True``) through ``ctx.backend``, never on NumPy directly, so a new
device only adds a backend. Gradients may come back broadcast: the engine sums them to the
input's shape (see ``autograd._fit``).
"""

from __future__ import annotations

from .function import Function, apply_raw


class Primitive(Function):
    """A built-in op: forward/backward on backend arrays, applied by the fast path."""

    raw = True
    apply = classmethod(apply_raw)


# --- elementwise, binary ------------------------------------------------------------------
class Add(Primitive):
    """a + b"""

    def forward(ctx, a, b):
        return ctx.backend.map("add", a, b)

    def backward(ctx, g):
        return g, g


class Sub(Primitive):
    """a - b"""

    def forward(ctx, a, b):
        return ctx.backend.map("sub", a, b)

    def backward(ctx, g):
        return g, (ctx.backend.map("neg", g) if ctx.needs_input_grad[1] else None)


class Mul(Primitive):
    """a * b"""

    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return ctx.backend.map("mul", a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        m = ctx.backend.map
        return (m("mul", g, b) if need_a else None), (m("mul", g, a) if need_b else None)


class Div(Primitive):
    """a / b;  d/db = -a / b^2"""

    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return ctx.backend.map("div", a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        m = ctx.backend.map
        return (m("div", g, b) if need_a else None), (m("div_grad_b", g, a, b) if need_b else None)


class Pow(Primitive):
    """a ** b;  d/da = b a^(b-1),  d/db = a^b log a"""

    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return ctx.backend.map("power", a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        m = ctx.backend.map
        return (
            m("pow_grad_base", g, a, b) if need_a else None,
            m("pow_grad_exponent", g, a, b) if need_b else None,
        )


class Maximum(Primitive):
    """max(a, b) elementwise; ties share the gradient equally."""

    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return ctx.backend.map("maximum", a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        m = ctx.backend.map
        need_a, need_b = ctx.needs_input_grad
        return (
            m("maximum_grad_a", g, a, b) if need_a else None,
            m("maximum_grad_b", g, a, b) if need_b else None,
        )


class Minimum(Primitive):
    """min(a, b) elementwise; ties share the gradient equally."""

    def forward(ctx, a, b):
        ctx.saved = (a, b)
        return ctx.backend.map("minimum", a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        m = ctx.backend.map
        need_a, need_b = ctx.needs_input_grad
        return (
            m("minimum_grad_a", g, a, b) if need_a else None,
            m("minimum_grad_b", g, a, b) if need_b else None,
        )


class Where(Primitive):
    """cond ? a : b"""

    def forward(ctx, cond, a, b):
        ctx.saved = (cond,)
        return ctx.backend.map("where", cond, a, b)

    def backward(ctx, g):
        (cond,) = ctx.saved
        m = ctx.backend.map
        _, need_a, need_b = ctx.needs_input_grad
        return (
            None,
            m("where", cond, g, 0.0) if need_a else None,
            m("where", cond, 0.0, g) if need_b else None,
        )


# --- elementwise, unary -------------------------------------------------------------------
class Neg(Primitive):
    def forward(ctx, x):
        return ctx.backend.map("neg", x)

    def backward(ctx, g):
        return (ctx.backend.map("neg", g),)


class _SavesOutput(Primitive):
    """y = f(x) with dy/dx = grad_name(g, y): sigmoid, tanh, sqrt, exp."""

    name = grad_name = ""

    def forward(ctx, x):
        y = ctx.backend.map(ctx.name, x)
        ctx.saved = (y,)
        return y

    def backward(ctx, g):
        return (ctx.backend.map(ctx.grad_name, g, ctx.saved[0]),)


class _SavesInput(Primitive):
    """y = f(x) with dy/dx = grad_name(g, x): log, log1p, abs, relu, softplus."""

    name = grad_name = ""

    def forward(ctx, x):
        ctx.saved = (x,)
        return ctx.backend.map(ctx.name, x)

    def backward(ctx, g):
        return (ctx.backend.map(ctx.grad_name, g, ctx.saved[0]),)


class Exp(_SavesOutput):
    """e^x;  d/dx = e^x"""

    name, grad_name = "exp", "mul"


class Sigmoid(_SavesOutput):
    """1 / (1 + e^-x);  d/dx = y (1 - y)"""

    name, grad_name = "sigmoid", "sigmoid_grad"


class Tanh(_SavesOutput):
    """tanh x;  d/dx = 1 - y^2"""

    name, grad_name = "tanh", "tanh_grad"


class Sqrt(_SavesOutput):
    """sqrt x;  d/dx = 1 / (2 y)"""

    name, grad_name = "sqrt", "sqrt_grad"


class Log(_SavesInput):
    """log x;  d/dx = 1 / x"""

    name, grad_name = "log", "div"


class Log1p(_SavesInput):
    """log(1 + x);  d/dx = 1 / (1 + x)"""

    name, grad_name = "log1p", "log1p_grad"


class Abs(_SavesInput):
    """|x|;  d/dx = sign x"""

    name, grad_name = "abs", "abs_grad"


class Relu(_SavesInput):
    """max(x, 0);  d/dx = [x > 0]"""

    name, grad_name = "relu", "relu_grad"


class Softplus(_SavesInput):
    """log(1 + e^x);  d/dx = sigma(x)"""

    name, grad_name = "softplus", "softplus_grad"


class Clamp(Primitive):
    """min(max(x, lo), hi);  the gradient passes where lo <= x <= hi."""

    def forward(ctx, x, lo, hi):
        ctx.saved = (x, lo, hi)
        return ctx.backend.map("clamp", x, lo, hi)

    def backward(ctx, g):
        x, lo, hi = ctx.saved
        return ctx.backend.map("clamp_grad", g, x, lo, hi), None, None


class Cast(Primitive):
    """x converted to another float dtype; the engine casts the gradient back."""

    def forward(ctx, x, dtype=None):
        return ctx.backend.astype(x, dtype)

    def backward(ctx, g):
        return (g,)


class Clone(Primitive):
    def forward(ctx, x):
        return ctx.backend.copy(x)

    def backward(ctx, g):
        return (g,)
