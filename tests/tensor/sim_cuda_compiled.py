"""Compiled rules on ``device="cuda"``: the generated ``numba.cuda`` kernels against the eager
CPU path, values and gradients, on random tables (float64 to 1e-6, float32 to 1e-4 relative).

Collected only by ``test_cuda_sim.py`` (a subprocess under ``NUMBA_ENABLE_CUDASIM=1``), where
every GPU thread is a Python thread: the domains are tiny (5 individuals), but a kernel with
two cell variables (25 cells) still has more cells than the simulator's 16 threads, so its
grid-stride loop wraps.
"""

import numpy as np
import pytest

import nesy
from nesy.logic import evaluate

pytestmark = pytest.mark.skipif(not nesy.cuda.is_available(), reason="no GPU, no simulator")

N = 5

# (formula, semantics, crisp tables: values 0, 1/2, 1 only, so that min and max tie)
CASES = {
    "transitivity": ("forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)", "product", False),
    "friends_smokes": ("forall x, y: (Friends(x, y) and Smokes(x)) -> Smokes(y)", "product",
                       False),
    "godel_min_ties": ("forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)", "godel", True),
    "godel_nested_max": ("forall x: exists y: Friends(x, y) and Smokes(y)", "godel", True),
    "exists": ("exists x, y: Friends(x, y) and Smokes(x) and not Smokes(y)", "product", False),
    "inner_over_two": ("forall x, y: exists z: R(x, z) and R(z, y)", "lukasiewicz", False),
    "inner_over_three": ("forall x, y, z: exists w: Q(x, y, z, w) or Smokes(w)", "godel",
                         True),
    "guard_compare": ("forall x, y where x != y: Friends(x, y) -> Friends(y, x)", "product",
                      False),
    "guard_atom": ("forall x, y where Friends(x, y): Smokes(x) -> Smokes(y)", "godel", True),
    "compare_in_body": ("forall x, y: (Friends(x, y) and x != y) -> Smokes(y)", "lukasiewicz",
                        False),
    "diag_and_0dim": ("forall diag(x, y), z where z != y: (R(x, z) and T()) -> Smokes(y)",
                      "product", False),
}


def tables(seed, crisp):
    rng = np.random.default_rng(seed)
    out = {"R": rng.random((N, N)), "Friends": rng.random((N, N)), "Smokes": rng.random(N),
           "T": rng.random(()), "Q": rng.random((3, 4, 2, N))}
    return {k: np.round(v * 2) / 2 if crisp else v for k, v in out.items()}


def run(formula, values, semantics, device, compiled, dtype):
    """(truth, {table: gradient}) of ``formula`` on ``device``; checks where results live."""
    leaves = {k: nesy.tensor(v, dtype=dtype, requires_grad=True, device=device)
              for k, v in values.items() if f"{k}(" in formula}
    out = evaluate(formula, leaves, semantics=semantics, compiled=compiled)
    assert out.device == device and out.dtype == dtype
    out.backward()
    grads = {}
    for name, t in leaves.items():
        if t.grad is None:
            grads[name] = np.zeros(t.shape)
        else:
            assert t.grad.device == device and t.grad.dtype == dtype, name
            grads[name] = t.grad.numpy()
    return out.item(), grads


@pytest.fixture
def launches(monkeypatch):
    """The GPU kernels launched (a silent fall back to the CPU kernels would launch none)."""
    from nesy.logic.compiled import cuda_arrays

    seen = []
    launch = cuda_arrays.CudaArrays.launch

    def counting(self, kernel, cells, args):
        seen.append(kernel)
        return launch(self, kernel, cells, args)

    monkeypatch.setattr(cuda_arrays.CudaArrays, "launch", counting)
    return seen


def _close(got, expected, rtol, scale, what):
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * 1e-2 * scale, err_msg=what)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cuda_kernels_match_the_eager_cpu_path_in_float64(case, launches):
    formula, semantics, crisp = CASES[case]
    values = tables(sorted(CASES).index(case), crisp)
    value, grads = run(formula, values, semantics, "cpu", False, nesy.float64)
    fused, fused_grads = run(formula, values, semantics, "cuda", True, nesy.float64)
    assert launches
    np.testing.assert_allclose(fused, value, rtol=1e-6, atol=1e-9, err_msg=formula)
    scale = max(max(np.abs(g).max() for g in grads.values()), 1e-3)
    for name, g in grads.items():
        _close(fused_grads[name], g, 1e-6, scale, f"d/d{name}: {formula}")


@pytest.mark.parametrize("case", ["transitivity", "friends_smokes", "godel_min_ties",
                                  "inner_over_two", "guard_atom"])
def test_cuda_kernels_match_the_eager_cpu_path_in_float32(case, launches):
    """Values to 1e-4 of the eager float32 ones; gradients to 1e-4 of the eager float64 ones
    (the kernels compute in float64 whatever the tables' dtype; the eager float32 gradients
    are themselves off by up to 3e-3, see tests/logic/test_compiled.py)."""
    formula, semantics, crisp = CASES[case]
    values = tables(100 + sorted(CASES).index(case), crisp)
    value, _ = run(formula, values, semantics, "cpu", False, nesy.float32)
    _, exact = run(formula, values, semantics, "cpu", False, nesy.float64)
    fused, fused_grads = run(formula, values, semantics, "cuda", True, nesy.float32)
    assert launches
    np.testing.assert_allclose(fused, value, rtol=1e-4, atol=1e-7, err_msg=formula)
    for name, g in exact.items():
        _close(fused_grads[name], g, 1e-4, max(np.abs(g).max(), 1e-6), f"d/d{name}: {formula}")


def test_mixing_devices_is_the_usual_error():
    R = nesy.tensor(np.full((N, N), 0.5))
    S = nesy.tensor(np.full(N, 0.5), device="cuda")
    with pytest.raises(RuntimeError, match="same device, found (cpu and cuda|cuda and cpu)"):
        evaluate("forall x, y: R(x, y) -> S(y)", {"R": R, "S": S}, compiled=True)


def test_a_quantifier_on_the_cpu_still_runs_the_cpu_kernels(launches):
    R = nesy.tensor(np.full((N, N), 0.5), requires_grad=True)
    out = evaluate("forall x, y: R(x, y)", {"R": R}, compiled=True)
    out.backward()
    assert out.device == "cpu" and R.grad.device == "cpu" and not launches


# --- a knowledge base on the GPU, compiled, trained one step ----------------------------------
SMOKERS = """
semantics product.
domain Person = {a, b, c, d, e}.
features Person = embedding(4).
predicate Smokes(Person) = mlp(hidden = [8]).
predicate Friends(Person, Person) = mlp(hidden = [8]).
predicate Cancer(Person) = mlp(hidden = [8]).
predicate Knows(Person, Person).
Friends(a, b). Friends(b, c). not Friends(a, d).
Knows(a, b). Knows(c, d).
Smokes(a). not Smokes(b). Cancer(a).
rule cancer: forall x: Smokes(x) -> Cancer(x).
rule spread: forall x, y: Friends(x, y) and Smokes(x) -> Smokes(y).
rule knows: forall x, y where x != y: Knows(x, y) -> Friends(x, y).
rule someone: forall x: exists y: Friends(x, y) and Smokes(y).
"""


def _train_step(device, compiled, dtype):
    nesy.manual_seed(0)
    kb = nesy.logic.loads(SMOKERS, device=device, dtype=dtype)
    if compiled:
        kb.compile()
    opt = nesy.optim.Adam(kb.parameters(), lr=0.01)
    truths = [kb.rule_truth(r).item() for r in ("cancer", "spread", "knows", "someone")]
    opt.zero_grad()
    loss = kb.loss()
    assert loss.device == device
    loss.backward()
    opt.step()
    return [*truths, kb.satisfaction().item()] + [p.detach().numpy() for p in kb.parameters()]


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-6), ("float32", 1e-4)])
def test_compiled_knowledge_base_trains_on_cuda_like_eager_on_cpu(dtype, rtol, launches):
    expected = _train_step("cpu", False, dtype)
    got = _train_step("cuda", True, dtype)
    assert launches
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * 1e-2)
