"""Python/Numba source for one quantifier's kernels, from its plan.

Three kernels per quantifier, each one loop nest over the groundings (the first loop, over
the first free axis or else the first bound axis, runs in parallel with ``prange``):

- ``forward``: accumulates the aggregate per output cell (a sum of p-mean terms and a count,
  or a minimum/maximum and how many groundings attain it), never storing the groundings;
- ``fused`` (sum aggregators of a closed quantifier): the forward pass plus each input's
  unscaled gradient, ``sum_g term'(v_g) dv_g/da``; the backward pass only scales it;
- ``backward``: a second pass that adds ``W[cell] term'(v) dv/da`` into each input's
  gradient table.

A gradient table indexed by the parallel loop's axis is written by the thread that owns
that row; any other one goes to a per-thread copy (``P{k}[tid, ...]``) summed afterwards, so
memory grows with the tables times the threads, never with the groundings. Inputs that do
not depend on the innermost loop are read, and their gradients summed, one loop further out.

The scalar code is target-neutral Python (conditional expressions, arithmetic), printed
once from the SymPy body; only the loop heads, the thread bookkeeping and the accumulating
statements depend on the target. ``target="cuda"`` writes the same three kernels for
``numba.cuda`` (``_CudaEmitter``): the first loops' cells (``cell_axes``) become one
grid-stride loop, a GPU thread per cell running the other loops serially, and gradients go
straight into the one gradient table (by the owning thread, or with ``cuda.atomic.add``).
"""

from __future__ import annotations

import sympy
from sympy.printing.pycode import PythonCodePrinter

from .. import fused
from .plan import index_code

VERSION = 2  # part of every cache key: bump when the generated code changes meaning


def _binary(template):
    """A printer method for a two-argument helper: ``template`` with ``{a}``, ``{b}``."""
    def method(self, expr):
        a, b = (self._print(arg) for arg in expr.args)
        return template.format(a=a, b=b)

    return method


class KernelPrinter(PythonCodePrinter):
    """SymPy -> scalar Python for a kernel body (the non-smooth helpers inlined)."""

    def _print_Symbol(self, expr):
        return "EPS" if expr.name == "epsilon" else expr.name

    # min(a, b) and max(a, b) as Python defines them, spelled out: two-argument min/max do
    # not compile for numba.cuda from numba 0.66 on (numba issue 10753)
    _print_Min2 = _binary("({b} if {b} < {a} else {a})")
    _print_Max2 = _binary("({b} if {b} > {a} else {a})")
    _print_Share = _binary("(1.0 if {a} > {b} else (0.5 if {a} == {b} else 0.0))")
    _print_Above = _binary("(1.0 if {a} > {b} else 0.0)")
    _print_GodelImplies = _binary("(1.0 if {a} <= {b} else {b})")
    _print_GoguenImplies = _binary("(1.0 if {a} <= {b} else {b} / {a})")
    _print_GoguenDa = _binary("(0.0 if {a} <= {b} else -{b} / ({a} * {a}))")
    _print_GoguenDb = _binary("(0.0 if {a} <= {b} else 1.0 / {a})")


_PRINTER = KernelPrinter({"standard": "python3"})


def code(expr):
    return _PRINTER.doprint(expr)


def _cse(exprs, prefix):
    """(assignment lines, printed results) after common-subexpression elimination."""
    symbols = sympy.numbered_symbols(prefix)
    replacements, reduced = sympy.cse(exprs, symbols=symbols, optimizations="basic")
    return [f"{s} = {code(e)}" for s, e in replacements], [code(e) for e in reduced]


def _power(base, p):
    if p == 1.0:
        return base
    if p == 2.0:
        return f"{base} * {base}"
    return f"{base} ** {p!r}"


def aggregate_code(plan):
    """(lines, term, slope) of a sum aggregator on the grounding value ``v``: the term added
    to the cell's sum, and its derivative in ``v`` (the eager forms' ``term'``, without the
    factor p that the root's derivative cancels)."""
    agg, p, stable = plan.aggregator, plan.p, plan.stable
    if agg == "mean":
        return [], "v", "1.0"
    if agg == "pmean":
        base = "(EPS + (1.0 - EPS) * v)" if stable else "v"
    else:  # pmean_error
        base = "(1.0 - (1.0 - EPS) * v)" if stable else "(1.0 - v)"
    slope = "(1.0 - EPS)" if stable else "1.0"
    grad = f"{_power('e', p - 1.0)} * {slope}" if p != 1.0 else slope
    return [f"e = {base}"], _power("e", p), grad


def is_sum(plan):
    return plan.aggregator in ("mean", "pmean", "pmean_error")


def cell_axes(plan, target="cpu"):
    """The loops whose values index the kernels' accumulators (``S, C`` or ``M, T, C``): the
    output's axes; for a closed quantifier, the first loop on the CPU (one row per parallel
    iteration), the first two on the GPU when there are three or more loops (one thread per
    cell: enough threads, while each still runs a loop), and the rows are merged after."""
    if plan.out_axes:
        return plan.out_axes
    loops = plan.loop_axes
    return loops[:2] if target == "cuda" and len(loops) >= 3 else loops[:1]


class _Emitter:
    """Writes one kernel: the loop nest and its innermost body."""

    INF = "np.inf"

    def __init__(self, plan, mode, need, parallel=True):
        self.parallel = parallel
        self.plan = plan
        self.mode = mode  # "forward", "fused" or "backward"
        self.need = need  # one bool per slot: does it take a gradient
        self.loops = plan.loop_axes
        self.pos = {a: i for i, a in enumerate(self.loops)}
        self.m = len(self.loops)
        self.cells = cell_axes(plan)
        self.c = len(self.cells)
        self.lines = []
        self.first = self.loops[0]
        self.grads = mode != "forward"
        self.shift = 0  # indentation levels that loop depths lose (the GPU's merged loops)

    # --- helpers -----------------------------------------------------------------------
    def depth_of(self, axes):
        return max(self.pos[a] for a in axes) + 1 if axes else 0

    def owned(self, slot):
        return self.first in slot.axes

    def grad_depth(self, slot):
        return max(self.depth_of(slot.axes), 1)

    def grad_target(self, slot):
        k = slot.name[1:]
        if self.owned(slot):
            return f"G{k}[{index_code(slot.axes)}]"
        return f"P{k}[tid, {index_code(slot.axes)}]"

    def wanted(self):
        return [s for s, n in zip(self.plan.slots, self.need) if n] if self.grads else []

    def emit(self, depth, text):
        self.lines.append("    " * (depth + 1 - self.shift) + text)

    def add_grad(self, d, slot, value):
        self.emit(d, f"{self.grad_target(slot)} += {value}")

    def buffer_name(self, slot):
        return ("G" if self.owned(slot) else "P") + slot.name[1:]

    # --- the kernel ----------------------------------------------------------------------
    def signature(self):
        plan = self.plan
        args = [f"n{a}" for a in self.loops]
        args += [s.name for s in plan.slots] + [s.name for s in plan.guard_slots]
        args += [t.name for t in plan.terms]
        if self.mode == "backward":
            args += ["W"] + ([] if is_sum(plan) else ["M"])
        else:
            args += ["S", "C"] if is_sum(plan) else ["M", "T", "C"]
        for s in self.wanted():
            args.append(self.buffer_name(s))
        return args

    def source(self, name):
        self.emit(-1, f"def {name}({', '.join(self.signature())}):")
        for s in self.plan.slots + self.plan.guard_slots:
            if not s.axes:
                self.emit(0, f"{s.symbol} = float({s.name}[0])")
        self.loop(0)
        return "\n".join(self.lines)

    def loop(self, d):
        axis = self.loops[d]
        rng = "prange" if d == 0 and self.parallel else "range"
        self.emit(d, f"for i{axis} in {rng}(n{axis}):")
        inner = d + 1
        if d == 0 and any(not self.owned(s) for s in self.wanted()):
            self.emit(inner, "tid = numba.get_thread_id()" if self.parallel else "tid = 0")
        if inner == self.c:
            self.open_cell(inner)
        for s in self.plan.slots + self.plan.guard_slots:
            if s.axes and self.depth_of(s.axes) == inner:
                self.emit(inner, f"{s.symbol} = float({s.name}[{index_code(s.axes)}])")
        local = [s for s in self.wanted() if self.grad_depth(s) == inner and inner < self.m]
        for s in local:
            self.emit(inner, f"g{s.name[1:]} = 0.0")
        if inner == self.m:
            self.body(inner)
        else:
            self.loop(inner)
        for s in local:
            self.add_grad(inner, s, f"g{s.name[1:]}")
        if inner == self.c:
            self.close_cell(inner)

    def cell_index(self):
        return ", ".join(f"i{a}" for a in self.cells)

    def open_cell(self, d):
        plan = self.plan
        if self.mode == "backward":
            self.emit(d, f"wc = W[{self.cell_index()}]")
            self.emit(d, "if wc == 0.0:")
            self.emit(d + 1, "continue")
            if not is_sum(plan):
                self.emit(d, f"mc = M[{self.cell_index()}]")
            return
        if is_sum(plan):
            self.emit(d, "s = 0.0")
        else:
            self.emit(d, f"m = {'' if plan.aggregator == 'min' else '-'}{self.INF}")
            self.emit(d, "t = 0.0")
        self.emit(d, "cnt = 0.0")

    def close_cell(self, d):
        if self.mode == "backward":
            return
        index = self.cell_index()
        if is_sum(self.plan):
            self.emit(d, f"S[{index}] = s")
        else:
            self.emit(d, f"M[{index}] = m")
            self.emit(d, f"T[{index}] = t")
        self.emit(d, f"C[{index}] = cnt")

    def extremum(self, d, value):
        better = "<" if self.plan.aggregator == "min" else ">"
        self.emit(d, f"if {value} {better} m:")
        self.emit(d + 1, f"m = {value}")
        self.emit(d + 1, "t = 1.0")
        self.emit(d, f"elif {value} == m:")
        self.emit(d + 1, "t += 1.0")

    def body(self, d):
        """The innermost loop's body; a masked-out grounding skips to the end of it (not
        with ``continue``, which would skip the cell's store when this loop is the cell's)."""
        plan = self.plan
        for symbol, test, _ in plan.compares:
            self.emit(d, f"{symbol} = 1.0 if {test} else 0.0")
        if plan.guard is not None:
            lines, (guard,) = _cse([plan.guard], "u")
            for line in lines:
                self.emit(d, line)
            self.emit(d, f"if not ({guard}) > 0.5:")
            if self.mode == "forward" and not is_sum(plan):
                self.extremum(d + 1, "1.0" if plan.aggregator == "min" else "0.0")
            else:
                self.emit(d + 1, "pass")
            self.emit(d, "else:")
            d += 1
        wanted = self.wanted()
        derivs = [sympy.diff(plan.body, s.symbol) for s in wanted]
        if is_sum(plan):  # value and derivatives share their subexpressions
            lines, (value, *derivs) = _cse([plan.body] + derivs, "x")
            for line in lines:
                self.emit(d, line)
            self.emit(d, f"v = {value}")
            d = self.accumulate(d)
        else:  # the value exactly as the forward kernel computes it: compared with M
            lines, (value,) = _cse([plan.body], "x")
            for line in lines:
                self.emit(d, line)
            self.emit(d, f"v = {value}")
            d = self.accumulate(d)
            lines, derivs = _cse(derivs, "y") if derivs else ([], [])
            for line in lines:
                self.emit(d, line)
        for s, deriv in zip(wanted, derivs):
            k = s.name[1:]
            if self.grad_depth(s) < self.m:
                self.emit(d, f"g{k} += w * ({deriv})")
            else:
                self.add_grad(d, s, f"w * ({deriv})")

    def accumulate(self, d):
        """Adds the grounding to the cell's aggregate; returns the depth for its gradient."""
        plan = self.plan
        if not is_sum(plan):
            if self.mode == "backward":
                self.emit(d, "if v == mc:")
                self.emit(d + 1, "w = wc")
                return d + 1
            self.extremum(d, "v")
            self.emit(d, "cnt += 1.0")
            return d
        term_lines, term, slope = aggregate_code(plan)
        for line in term_lines:
            self.emit(d, line)
        if self.mode == "backward":
            self.emit(d, f"w = wc * {slope}")
            return d
        self.emit(d, f"s += {term}")
        self.emit(d, "cnt += 1.0")
        if self.mode == "fused":
            self.emit(d, f"w = {slope}")
        return d


class _CudaEmitter(_Emitter):
    """The same loop nest as a ``numba.cuda`` kernel: the cell loops merge into one
    grid-stride loop (a thread per cell), the others run serially in the thread. A gradient
    table indexed by every cell axis is written by the thread owning the cell; any other
    goes through ``cuda.atomic.add`` into the one table (no per-thread copies)."""

    INF = "math.inf"

    def __init__(self, plan, mode, need):
        super().__init__(plan, mode, need, parallel=False)
        self.cells = cell_axes(plan, "cuda")
        self.c = len(self.cells)
        self.shift = self.c - 1  # the cell loops are one loop here

    def owned(self, slot):
        return all(a in slot.axes for a in self.cells)

    def grad_depth(self, slot):
        return max(self.depth_of(slot.axes), self.c)

    def buffer_name(self, slot):
        return "G" + slot.name[1:]

    def add_grad(self, d, slot, value):
        if self.owned(slot):
            return super().add_grad(d, slot, value)
        index = index_code(slot.axes)
        index = f"({index})" if len(slot.axes) > 1 else index
        self.emit(d, f"cuda.atomic.add(G{slot.name[1:]}, {index}, {value})")

    def source(self, name):
        c, plan = self.c, self.plan
        self.emit(c - 2, f"def {name}({', '.join(self.signature())}):")
        for s in plan.slots + plan.guard_slots:
            if not s.axes:
                self.emit(c - 1, f"{s.symbol} = float({s.name}[0])")
        self.grid_loop()
        self.open_cell(c)
        for s in plan.slots + plan.guard_slots:
            if s.axes and self.depth_of(s.axes) <= c:
                self.emit(c, f"{s.symbol} = float({s.name}[{index_code(s.axes)}])")
        local = [s for s in self.wanted() if self.grad_depth(s) == c and c < self.m]
        for s in local:
            self.emit(c, f"g{s.name[1:]} = 0.0")
        if c == self.m:
            self.body(c)
        else:
            self.loop(c)
        for s in local:
            self.add_grad(c, s, f"g{s.name[1:]}")
        self.close_cell(c)
        return "\n".join(self.lines)

    def grid_loop(self):
        """``for`` over this thread's cells, each cell's indices split from its number."""
        c, cells = self.c, self.cells
        if c == 1:
            a = cells[0]
            self.emit(0, f"for i{a} in range(cuda.grid(1), n{a}, cuda.gridsize(1)):")
            return
        total = " * ".join(f"n{a}" for a in cells)
        self.emit(c - 1, f"for cell in range(cuda.grid(1), {total}, cuda.gridsize(1)):")
        rest = "cell"
        for j in range(c - 1, 0, -1):
            a = cells[j]
            self.emit(c, f"i{a} = {rest} % n{a}")
            if j > 1:
                self.emit(c, f"rest = {rest} // n{a}")
                rest = "rest"
            else:
                self.emit(c, f"i{cells[0]} = {rest} // n{a}")


def kernel_name(plan, mode, parallel):
    return f"{plan.label}_{mode}" + ("" if parallel else "_serial")


def kernel_source(plan, mode, need, parallel=True, target="cpu"):
    """The source of one kernel function of ``plan`` (serial: the same loops, no threads,
    for small groundings, where starting threads costs more than it saves; ``target="cuda"``:
    a ``numba.cuda`` kernel)."""
    if target == "cuda":
        body = _CudaEmitter(plan, mode, need).source(kernel_name(plan, mode, True))
        return "@cuda.jit(cache=True)\n" + body
    body = _Emitter(plan, mode, need, parallel).source(kernel_name(plan, mode, parallel))
    fastmath = '{"reassoc"}' if is_sum(plan) else "False"
    deco = f"@numba.njit(parallel={parallel}, cache=True, fastmath={fastmath})"
    return deco + "\n" + body


_CUDA_HEAD = [
    "Each function is a grid-stride loop over the cells of one quantifier (a GPU thread per",
    "cell), running the rest of its loops serially; see nesy/logic/compiled/codegen.py.\"\"\"",
    "",
    "import math",
    "",
    "from numba import cuda",
]


def module_source(plans, need_of, title, target="cpu"):
    """A module with the kernels of ``plans``; ``need_of[label]`` the slots taking a grad;
    ``target``: ``"cpu"`` (Numba, parallel and serial variants) or ``"cuda"`` (numba.cuda)."""
    if target == "cuda":
        head = [f'"""numba.cuda kernels generated by nesy.logic.compiled (codegen version '
                f'{VERSION}) for', "", f"    {title}", "", *_CUDA_HEAD, "",
                f"EPS = {float(fused.EPS)!r}"]
        parts = ["\n".join(head)]
        for plan in plans:
            parts += [kernel_source(plan, mode, need_of[plan.label], target="cuda")
                      for mode in kernel_modes(plan)]
        return "\n\n\n".join(parts) + "\n"
    head = [
        f'"""Kernels generated by nesy.logic.compiled (codegen version {VERSION}) for',
        "",
        f"    {title}",
        "",
        "Each function loops once over the groundings of one quantifier; see",
        'nesy/logic/compiled/codegen.py for what the three kernels compute."""',
        "",
        "import numba",
        "import numpy as np",
        "from numba import prange",
        "",
        f"EPS = {float(fused.EPS)!r}",
    ]
    parts = ["\n".join(head)]
    for plan in plans:
        need = need_of[plan.label]
        for parallel in (True, False):
            for mode in kernel_modes(plan):
                parts.append(kernel_source(plan, mode, need, parallel))
    return "\n\n\n".join(parts) + "\n"


def kernel_modes(plan):
    """``forward`` and ``backward``; ``fused`` too for a closed quantifier summing terms."""
    return ["forward", "fused", "backward"] if is_sum(plan) and not plan.out_axes \
        else ["forward", "backward"]
