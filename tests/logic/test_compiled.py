"""Compiled rules (nesy.logic.compiled): fused kernels against the eager path.

Every comparison here is with the eager evaluation (itself tested against LTNtorch in
test_evaluate.py), on the same inputs: values and gradients must agree to 1e-6 (float64) or
1e-4 (float32) relative.
"""

import os
import tracemalloc
import warnings

import numpy as np
import pytest

import nesy
from nesy.examples import rules_dir
from nesy.logic import evaluate
from nesy.logic.compiled import CompileFallbackWarning, autograd

sympy = pytest.importorskip("sympy")

SEMANTICS = {
    "product": "product",
    "godel": "godel",
    "lukasiewicz": "lukasiewicz",
    "goguen": {"and": "luk", "or": "probsum", "implies": "goguen", "forall": "pmean_error",
               "p_forall": 3.0, "exists": "pmean", "p_exists": 1.5},
    "unstable": {"and": "prod", "or": "probsum", "implies": "kleene_dienes", "forall": "min",
                 "exists": "mean", "stable": False},
    "mixed": {"and": "min", "or": "luk", "implies": "reichenbach", "forall": "mean",
              "exists": "pmean", "preset": "godel"},
}


# --- random closed formulas ------------------------------------------------------------------
class Generator:
    """Random tables and closed formulas (text) over them: nested quantifiers, guards made of
    atoms, comparisons and connectives, paired variables, constants, quantifier options."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def case(self):
        rng = self.rng
        self.sizes = {"a": int(rng.integers(1, 5)), "b": int(rng.integers(2, 5))}
        self.schema = {"P": ("a",), "Q": ("a", "b"), "R": ("b", "b"), "T": ()}
        crisp = rng.random() < 0.3  # 0, 1/2, 1 only: ties in min, max and the Goedel ops
        tables = {}
        for name, sorts in self.schema.items():
            shape = tuple(self.sizes[s] for s in sorts)
            tables[name] = (rng.integers(0, 3, shape) / 2.0 if crisp else rng.random(shape))
        while True:
            self.grid = 1
            text = self.top()
            if self.grid <= 4096:
                return text, tables

    def top(self):
        if self.rng.random() < 0.85:
            return self.quantified(3, {})
        op = self.rng.choice(["and", "or", "->"])
        return f"({self.quantified(2, {})}) {op} ({self.quantified(2, {})})"

    def formula(self, depth, scope, quantifiers=True):
        rng = self.rng
        r = rng.random()
        if quantifiers and depth > 0 and r < 0.25:
            return self.quantified(depth, scope)
        if depth == 0 or r < 0.5:
            return self.compare(scope) if rng.random() < 0.15 else self.atom(scope)
        if r < 0.6:
            return f"not {self.formula(depth - 1, scope, quantifiers)}"
        op = rng.choice(["and", "or", "->", "<->"])
        left = self.formula(depth - 1, scope, quantifiers)
        return f"({left} {op} {self.formula(depth - 1, scope, quantifiers)})"

    def quantified(self, depth, scope):
        rng = self.rng
        inner = dict(scope)
        binders, new = [], []
        for _ in range(int(rng.integers(1, 3))):
            sort = str(rng.choice(["a", "b"]))
            names = [self.fresh(sort, inner)]
            inner[names[0]] = sort
            if rng.random() < 0.2:
                names.append(self.fresh(sort, inner))
                inner[names[1]] = sort
            self.grid *= self.sizes[sort]
            new += names
            binders.append(names[0] if len(names) == 1 else f"diag({', '.join(names)})")
        guard = ""
        if rng.random() < 0.4:  # a guard has no quantifier (the checker's rule)
            g = self.formula(1, inner, False) if rng.random() < 0.5 else self.compare(inner)
            guard = f" where {g}"
        body = self.formula(depth - 1, inner)
        for v in new:  # every variable must index a table to have a range
            if f"{v}," not in body + guard and f"{v})" not in body + guard:
                body = f"({body} and {self.atom(inner, must=v)})"
        option = f"[p = {rng.choice([1, 2, 3.5, 5])}]" if rng.random() < 0.2 else ""
        kind = "forall" if rng.random() < 0.5 else "exists"
        return f"{kind}{option} {', '.join(binders)}{guard}: {body}"

    @staticmethod
    def fresh(sort, scope):
        return next(f"{sort}{i}" for i in range(20) if f"{sort}{i}" not in scope)

    def atom(self, scope, must=None):
        rng = self.rng
        names = [n for n, s in self.schema.items() if must is None or scope[must] in s]
        name = str(rng.choice(names))
        args = []
        for s in self.schema[name]:
            vs = [v for v, vs in scope.items() if vs == s]
            if must is not None and scope[must] == s and must not in args:
                args.append(must)
            elif vs and rng.random() < 0.85:
                args.append(str(rng.choice(vs)))
            else:
                args.append(str(rng.integers(0, self.sizes[s])))
        return f"{name}({', '.join(args)})"

    def compare(self, scope):
        rng = self.rng
        if not scope:
            return self.atom(scope)
        names = list(scope)
        left = str(rng.choice(names))
        if rng.random() < 0.5:
            left = f"{left} + {rng.choice(names)}"
        right = str(rng.choice(names)) if rng.random() < 0.5 else str(rng.integers(0, 4))
        return f"{left} {rng.choice(['=', '!=', '<', '>='])} {right}"


CASES = [Generator(seed).case() for seed in range(24)]


def run(formula, tables, semantics, compiled, dtype=nesy.float64):
    """(truth, {table: gradient}) of ``formula``, eager or compiled."""
    leaves = {k: nesy.tensor(v, dtype=dtype, requires_grad=True) for k, v in tables.items()}
    out = evaluate(formula, leaves, semantics=semantics, compiled=compiled)
    out.backward()
    grads = {k: (np.zeros(t.shape) if t.grad is None else t.grad.numpy())
             for k, t in leaves.items()}
    return out.item(), grads


def assert_same(formula, tables, semantics, dtype=nesy.float64):
    rtol = 1e-6 if dtype == nesy.float64 else 1e-4
    value, grads = run(formula, tables, semantics, False, dtype)
    fused, fused_grads = run(formula, tables, semantics, True, dtype)
    np.testing.assert_allclose(fused, value, rtol=rtol, atol=rtol * 1e-3, err_msg=formula)
    scale = max([np.abs(g).max() for g in grads.values() if g.size] + [1e-3])
    for name in tables:
        np.testing.assert_allclose(fused_grads[name], grads[name], rtol=rtol,
                                   atol=rtol * 1e-2 * scale, err_msg=f"d/d{name}: {formula}")


# --- values and gradients equal the eager path -----------------------------------------------
@pytest.mark.parametrize("semantics", sorted(SEMANTICS))
def test_random_formulas_match_eager(semantics):
    for formula, tables in CASES:
        assert_same(formula, tables, SEMANTICS[semantics])


@pytest.mark.parametrize("semantics", ["product", "godel", "lukasiewicz"])
def test_random_formulas_match_eager_in_float32(semantics):
    """Values to 1e-4 of the eager float32 ones. The kernels compute in float64 whatever the
    tables' dtype, so their float32 gradients are compared with the eager float64 ones (to
    1e-4 of the largest): the eager float32 gradients themselves are off by up to 3e-3 there
    on these formulas (cancellations in 1 - pi_1(x) and in long product chains)."""
    sem = SEMANTICS[semantics]
    for formula, tables in CASES[:10]:
        value, _ = run(formula, tables, sem, False, nesy.float32)
        exact, grads = run(formula, tables, sem, False, nesy.float64)
        fused, fused_grads = run(formula, tables, sem, True, nesy.float32)
        np.testing.assert_allclose(fused, value, rtol=1e-4, atol=1e-7, err_msg=formula)
        for name, g in grads.items():
            scale = max(np.abs(g).max(), 1e-6)
            np.testing.assert_allclose(fused_grads[name], g, rtol=1e-4, atol=1e-4 * scale,
                                       err_msg=f"d/d{name}: {formula}")


def test_the_random_formulas_cover_the_language():
    text = " ".join(f for f, _ in CASES)
    for construct in ("diag(", " where ", "exists", "forall", "[p =", "<->", "->", "not ",
                      "T()", " + ", "!="):
        assert construct in text, construct
    nested = [f for f, _ in CASES if f.count("forall") + f.count("exists") > 1]
    assert len(nested) >= 8


BENCHMARK_FORMULAS = [
    "forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)",
    "forall x, y: (F(x, y) and S(x)) -> S(y)",
    "forall x: exists y: F(x, y) and S(y)",
    "forall x, y where x != y: F(x, y) -> F(y, x)",
    "forall x, y where F(x, y): S(x) -> S(y)",
]


@pytest.mark.parametrize("formula", BENCHMARK_FORMULAS)
@pytest.mark.parametrize("semantics", sorted(SEMANTICS))
def test_parallel_kernels_match_eager(formula, semantics, monkeypatch):
    """The threaded kernels (per-thread gradient tables, rows owned by threads)."""
    monkeypatch.setattr(autograd, "PARALLEL_MIN", 0)
    rng = np.random.default_rng(1)
    n = 9
    tables = {"R": rng.random((n, n)), "F": np.round(rng.random((n, n)) * 2) / 2,
              "S": rng.random(n)}
    used = {k: v for k, v in tables.items() if f"{k}(" in formula}
    assert_same(formula, used, SEMANTICS[semantics])


def test_gradcheck_of_the_compiled_function():
    rng = np.random.default_rng(2)
    R = nesy.tensor(rng.uniform(0.1, 0.9, (4, 4)), dtype=nesy.float64, requires_grad=True)
    S = nesy.tensor(rng.uniform(0.1, 0.9, 4), dtype=nesy.float64, requires_grad=True)
    formula = "forall x: exists y where x != y: (R(x, y) and S(y)) -> R(y, x)"
    for semantics in ("product", SEMANTICS["goguen"]):
        def truth(r, s, semantics=semantics):
            return evaluate(formula, {"R": r, "S": s}, semantics=semantics, compiled=True)

        assert nesy.gradcheck(truth, R, S)


def test_empty_guard_is_vacuous_without_gradient():
    S = nesy.tensor([0.3, 0.6], dtype=nesy.float64, requires_grad=True)
    for kind, vacuous in (("forall", 1.0), ("exists", 0.0)):
        for semantics in SEMANTICS.values():
            out = evaluate(f"{kind} x where x > 5: S(x)", {"S": S}, semantics=semantics,
                           compiled=True)
            assert out.item() == vacuous


# --- knowledge bases: the examples in rules/ ------------------------------------------------
def kb_pair(path, setup=None, **options):
    """Two identical knowledge bases from ``path``, the second compiled."""
    nesy.manual_seed(0)
    eager = nesy.logic.load(path, **options)
    if setup:
        setup(eager)
    fused = nesy.logic.load(path, **options)
    if setup:
        setup(fused)
    fused.load_state_dict(eager.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileFallbackWarning)  # every example compiles
        fused.compile()
    return eager, fused


def assert_kb_same(eager, fused, rtol):
    for kb in (eager, fused):
        for p in kb.parameters():
            p.grad = None
        kb.loss().backward()
    for name in eager.rules:
        a, b = eager.rule_truth(name).item(), fused.rule_truth(name).item()
        np.testing.assert_allclose(b, a, rtol=rtol, err_msg=name)
    theirs = dict(fused.named_parameters())
    for name, p in eager.named_parameters():
        g = p.grad.numpy()
        np.testing.assert_allclose(theirs[name].grad.numpy(), g, rtol=rtol,
                                   atol=rtol * np.abs(g).max(), err_msg=name)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-6), ("float32", 1e-4)])
def test_smokers_example_compiles_and_matches(dtype, rtol):
    eager, fused = kb_pair(os.path.join(rules_dir(), "smokers.nesy"), dtype=dtype)
    assert_kb_same(eager, fused, rtol)


@pytest.mark.parametrize("semantics", ["godel", "lukasiewicz"])
def test_smokers_example_under_other_semantics(semantics):
    path = os.path.join(rules_dir(), "smokers.nesy")
    eager, fused = kb_pair(path, semantics=semantics, dtype="float64")
    assert_kb_same(eager, fused, 1e-6)


@pytest.mark.parametrize("digits", [1, 2])
def test_digits_addition_examples_compile_and_match(digits):
    rng = np.random.default_rng(digits)
    slots = {1: ("left", "right"), 2: ("tens1", "units1", "tens2", "units2")}[digits]
    images = rng.random((12, 64))
    rows = {slot: images[rng.integers(0, 12, 5)] for slot in slots}
    totals = rng.integers(0, 19 if digits == 1 else 199, 5).astype(float)

    def setup(kb):
        kb.set_features("Image", images)
        for slot in slots:
            kb.set_function(slot, rows[slot])
        kb.set_function("total", totals)

    name = "digits_addition.nesy" if digits == 1 else "digits_addition2.nesy"
    eager, fused = kb_pair(os.path.join(rules_dir(), name), setup=setup, dtype="float64")
    assert_kb_same(eager, fused, 1e-6)


def test_neural_predicates_run_once_per_grounding_of_their_arguments():
    kb = nesy.logic.loads("""
        domain P size 30.
        features P = embedding(3).
        predicate S(P) = mlp(hidden = [4]).
        predicate F(P, P).
        rule spread: forall x, y, z: F(x, y) and S(x) and F(y, z) -> S(z).
    """, dtype="float64").compile()
    rng = np.random.default_rng(0)
    kb.set_truths("F", rng.random((30, 30)))
    rows = []
    model = kb.models.S
    kb.bind("S", lambda x: (rows.append(x.shape[0]), model(x))[1])
    kb.loss().backward()
    assert rows == [30, 30]  # S(x), S(z): one row per person each, not one per grounding
    assert kb.embeddings.P.grad is not None and np.abs(kb.embeddings.P.grad.numpy()).max() > 0


# --- fallback, introspection, caching ---------------------------------------------------------
def test_a_user_operator_falls_back_with_one_warning():
    from nesy.logic.semantics import register_operator, unregister_operator

    register_operator("and", "hamacher_test",
                      lambda x, y, stable=True: x * y / (x + y - x * y + 1e-12), check=False)
    try:
        text = """
            domain P size 4.
            predicate R(P, P).
            R(0, 1). R(1, 2).
            semantics (and = hamacher_test).
            rule trans: forall x, y, z: R(x, y) and R(y, z) -> R(x, z).
            rule sym: forall x, y: R(x, y) -> R(y, x).
        """
        eager = nesy.logic.loads(text)
        with pytest.warns(CompileFallbackWarning) as record:
            kb = nesy.logic.loads(text).compile()
        assert len(record) == 1  # trans only: sym uses no 'and' and compiles
        assert "rule trans" in str(record[0].message)
        assert "hamacher_test" in str(record[0].message)
        assert kb.satisfaction().item() == pytest.approx(eager.satisfaction().item())
        assert "evaluated eagerly" in kb.compiled_source("trans")
        assert "def q0_forward(" in kb.compiled_source("sym")
        with pytest.raises(ValueError, match="hamacher_test"):
            kb.formula("trans")
    finally:
        unregister_operator("and", "hamacher_test")


def test_compiled_source_and_formula():
    kb = nesy.logic.loads("""
        domain P size 3.
        predicate R(P, P). predicate S(P).
        semantics (and = prod, stable = false).
        rule trans: forall x, y, z: R(x, y) and R(y, z) -> R(x, z).
        rule both: forall x: S(x) and S(x) and R(x, x).
        forall x: exists y: R(x, y).
    """)
    source = kb.compiled_source("trans")
    assert "def q0_forward(" in source and "prange(" in source and "def q0_backward(" in source
    compile(source, "<generated>", "exec")  # plain Python
    both = kb.formula("both")
    assert isinstance(both, sympy.Basic)
    S, R = sympy.Function("S"), sympy.Function("R")
    x = sympy.Symbol("x")
    assert both.args[0] == S(x) ** 2 * R(x, x)
    assert "\\forall" in sympy.latex(both)
    anonymous = [n for n in kb.rules if n.startswith("rule@")]
    assert len(anonymous) == 1 and "Exists" in str(kb.formula(anonymous[0]))
    with pytest.raises(ValueError, match="no constraint rule"):
        kb.formula("missing")


def test_kernels_are_cached_by_formula_and_semantics(tmp_path, monkeypatch):
    from nesy.logic.compiled import kernel_cache

    monkeypatch.setenv("NESY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_cache, "_MODULES", {})
    R = nesy.tensor(np.full((3, 3), 0.5))
    formula = "forall x, y: R(x, y) or R(y, x) or R(x, x)"
    a = evaluate(formula, {"R": R}, semantics="lukasiewicz", compiled=True)
    files = sorted(os.listdir(tmp_path / "kernels"))
    b = evaluate(formula, {"R": R}, semantics="lukasiewicz", compiled=True)
    assert a.item() == b.item()
    assert [f for f in files if f.endswith(".py")] == [
        f for f in sorted(os.listdir(tmp_path / "kernels")) if f.endswith(".py")]
    assert len([f for f in files if f.endswith(".py")]) == 1


def test_serial_kernels_equal_their_python_functions():
    """Each generated kernel, compiled by Numba, equals its ``.py_func`` (PyReason's check)."""
    from nesy.logic.api import _parse_formula
    from nesy.logic.compiled import compile_formula
    from nesy.logic.grounding import resolve_untyped
    from nesy.logic.semantics import Semantics

    node = resolve_untyped(_parse_formula("forall x, y where x != y: R(x, y) -> S(y)"), None)
    compiled = compile_formula(node, Semantics.resolve("godel"))
    (plan,) = compiled.plans
    module = compiled.kernels(plan, (True, True))
    rng = np.random.default_rng(3)
    R, S, idx = rng.random((4, 5)), rng.random(5), np.arange(5.0)
    for fn in (module.q0_forward_serial, module.q0_forward):
        got = [np.zeros(4) for _ in range(3)]
        want = [np.zeros(4) for _ in range(3)]
        fn(4, 5, R, S, idx[:4], idx, *got)
        fn.py_func(4, 5, R, S, idx[:4], idx, *want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


# --- what compiling is for: no grounding tensors ---------------------------------------------
def test_memory_grows_with_the_tables_not_the_groundings():
    n = 200  # 8 million groundings: 64 MB per float64 grounding tensor
    R = nesy.tensor(np.random.default_rng(0).random((n, n)), requires_grad=True)
    formula = "forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)"
    evaluate(formula, {"R": R}, compiled=True).backward()  # compile first
    R.grad = None
    tracemalloc.start()
    out = evaluate(formula, {"R": R}, compiled=True)
    out.backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * n * n * 8  # a few tables and per-thread copies, not n^3
    with nesy.no_grad():
        ref = evaluate(formula, {"R": R.detach()})
    assert out.item() == pytest.approx(ref.item(), rel=1e-4)


def test_the_grounding_budget_does_not_apply_to_fused_loops():
    R = nesy.tensor(np.full((20, 20), 0.5))
    formula = "forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)"
    with pytest.raises(nesy.logic.RuleError, match="budget"):
        evaluate(formula, {"R": R}, max_groundings=1000)
    fused = evaluate(formula, {"R": R}, max_groundings=1000, compiled=True)
    assert fused.item() == pytest.approx(evaluate(formula, {"R": R}).item(), rel=1e-5)


def test_a_quantifier_inside_a_guard_gets_its_own_plan():
    # the planner plans a quantifier's body before its guard; ast.walk visits the guard first
    rng = np.random.default_rng(0)
    tables = {"R": rng.random((4, 4)), "S": rng.random((4, 4))}
    formula = "forall x where (exists y: R(x, y)): (exists z: S(x, z)) and (forall w: R(w, x))"
    fused = nesy.logic.evaluate(formula, tables, compiled=True)
    eager = nesy.logic.evaluate(formula, tables)
    assert float(fused.item()) == pytest.approx(float(eager.item()), rel=1e-6)


# --- the GPU kernels (run under the CUDA simulator in tests/tensor/sim_cuda_compiled.py) -----
def test_compiled_source_for_the_gpu():
    kb = nesy.logic.loads("""
        domain P size 3.
        predicate R(P, P).
        rule trans: forall x, y, z: R(x, y) and R(y, z) -> R(x, z).
    """)
    cpu, gpu = kb.compiled_source("trans"), kb.compiled_source("trans", target="cuda")
    assert cpu == kb.compiled_source("trans", target="cpu") and "prange(" in cpu
    assert "@cuda.jit" in gpu and "prange" not in gpu and "numba.njit" not in gpu
    # one thread per (x, y); R(y, z) and R(x, z) are shared by threads: atomics
    assert "for cell in range(cuda.grid(1), n0 * n1, cuda.gridsize(1)):" in gpu
    assert "cuda.atomic.add(G1, (i1, i2)," in gpu and "cuda.atomic.add(G2, (i0, i2)," in gpu
    assert "G0[i0, i1] += g0" in gpu  # R(x, y): written by the thread owning the cell
    compile(gpu, "<generated>", "exec")
    with pytest.raises(ValueError, match="target"):
        kb.compiled_source("trans", target="tpu")


def test_the_scalar_code_is_the_same_on_both_targets():
    """Only loop heads and accumulation differ: every line of the CPU kernel's body that
    computes a value (x0 = ..., v = ..., e = ...) appears in the GPU kernel too."""
    kb = nesy.logic.loads("""
        domain P size 3.
        predicate R(P, P). predicate S(P).
        semantics godel.
        rule r: forall x: exists y where x != y: (R(x, y) or S(y)) -> R(y, x).
    """)
    cpu, gpu = kb.compiled_source("r"), kb.compiled_source("r", target="cuda")
    scalar = {line.strip() for line in cpu.splitlines()
              if line.strip()[:2] in ("x0", "x1", "x2", "v ", "e ", "c0", "y0")}
    assert scalar and scalar <= {line.strip() for line in gpu.splitlines()}
    assert "min(" not in gpu and "max(" not in gpu  # numba >= 0.66 cannot compile them


def _cuda_signature(plan, mode, dtype):
    from numba import types

    from nesy.logic.compiled.codegen import cell_axes, is_sum

    def array(ndim, dt=types.float64):
        return types.Array(dt, max(ndim, 1), "C")

    cells = array(len(cell_axes(plan, "cuda")))
    sig = [types.int64] * len(plan.loop_axes)
    sig += [array(len(s.axes), dtype) for s in plan.slots + plan.guard_slots]
    sig += [array(len(t.axes)) for t in plan.terms]
    sig += [cells] * ((1 if mode == "backward" else 2) + (0 if is_sum(plan) else 1))
    if mode != "forward":
        sig += [array(len(s.axes)) for s in plan.slots]
    return tuple(sig)


@pytest.mark.parametrize("formula, semantics", [
    ("forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)", "product"),
    ("forall x: exists y where x != y: (R(x, y) or S(y)) -> R(y, x)", "godel"),
    ("forall diag(x, y), z where R(x, z): (R(y, z) and T()) -> S(y)", SEMANTICS["goguen"]),
])
def test_the_gpu_kernels_compile_for_cuda(formula, semantics):
    """Typing and lowering of the GPU kernels by numba.cuda (the simulator runs them as plain
    Python and checks neither); needs the CUDA toolkit's NVVM, not a GPU."""
    import numba

    from nesy.logic.api import _parse_formula
    from nesy.logic.compiled import compile_formula
    from nesy.logic.compiled.codegen import kernel_modes, kernel_name
    from nesy.logic.grounding import resolve_untyped
    from nesy.logic.semantics import Semantics

    if numba.config.ENABLE_CUDASIM:
        pytest.skip("numba's CUDA simulator compiles nothing")
    cuda = pytest.importorskip("numba.cuda")
    try:
        from numba.cuda.cudadrv import nvvm

        nvvm.NVVM()
    except Exception as why:  # no CUDA toolkit here
        pytest.skip(f"no NVVM to compile with: {why}")
    from numba import types

    compiled = compile_formula(resolve_untyped(_parse_formula(formula), None),
                               Semantics.resolve(semantics))
    for plan in compiled.plans:
        module = compiled.kernels(plan, (True,) * len(plan.slots), "cuda")
        for mode in kernel_modes(plan):
            kernel = getattr(module, kernel_name(plan, mode, True)).py_func
            for dtype in (types.float32, types.float64):
                ptx, _ = cuda.compile_ptx(kernel, _cuda_signature(plan, mode, dtype), cc=(8, 0))
                assert ".entry" in ptx


def test_kernel_files_are_written_whole(tmp_path, monkeypatch):
    from nesy.logic.compiled import kernel_cache

    monkeypatch.setenv("NESY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_cache, "_MODULES", {})
    source = "X = 1\n"
    module = kernel_cache.load(source)
    names = [n for n in os.listdir(tmp_path / "kernels") if n != "__pycache__"]
    assert module.X == 1
    assert names == [f"k_{kernel_cache.source_key(source)}.py"]  # no temporary file left
    assert os.stat(module.__file__).st_mode & 0o600 == 0o600


def test_errors_point_into_the_formula_evaluated_not_an_equal_one_compiled_first():
    # equal formulas share one compiled form; a budget error must still show the caller's
    # own place: two columns further right when the text starts with two spaces
    R = nesy.tensor(np.full((6, 6), 0.5))

    def place(text):
        with pytest.raises(nesy.logic.RuleError, match="budget") as err:
            evaluate(text, {"R": R}, compiled=True, max_groundings=3)
        line, col = str(err.value).split(": ")[0].split(":")[-2:]
        return int(line), int(col)

    first, second = "forall x: exists y: R(x, y)", "  forall x: exists y: R(x, y)"
    evaluate(first, {"R": R}, compiled=True)  # compiled and cached with its spans
    assert place(first) == (1, 11)  # the inner quantifier's table is over the budget
    assert place(second) == (1, 13)
    assert place(first) == (1, 11)
