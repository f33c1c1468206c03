"""Compiled rules: each quantifier of a rule as one fused Numba loop over its groundings.

``kb.compile()`` (or ``nesy.logic.evaluate(..., compiled=True)``) turns every quantifier's
body into a SymPy expression in its atoms' truths under the semantics, derives the partial
derivative with respect to each atom, and generates two loop nests per quantifier: one that
accumulates the aggregate without storing the groundings, one that accumulates each atom's
gradient into its table. Neural predicates run outside the loops, once per grounding of
their own arguments; their tables feed the kernels and take the gradients back.

    plan.py         the formula's quantifiers as loop nests with inputs and a SymPy body
    sympy_form.py   the connectives as SymPy (stability projections, subgradients)
    codegen.py      plan -> Python/Numba source
    kernel_cache.py generated modules: written to a cache folder, imported once
    autograd.py     the fused quantifier as a nesy Function (forward and backward kernels)
    evaluator.py    CompiledFormula: evaluating a closed formula with its kernels
    kb_methods.py   KnowledgeBase.compile(), compiled_source(), formula()
"""

__all__ = ["CompileFallbackWarning", "CompiledFormula", "NotFusable", "compile_formula",
           "warn_fallback"]

_HOME = {"CompileFallbackWarning": "evaluator", "CompiledFormula": "evaluator",
         "compile_formula": "evaluator", "warn_fallback": "evaluator", "NotFusable": "plan"}


def __getattr__(name):
    """Load SymPy and the code generator on first use, not with ``import nesy``."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value  # later look-ups (one per evaluate call) skip this function
    return value
