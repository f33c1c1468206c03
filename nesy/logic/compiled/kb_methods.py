"""``KnowledgeBase.compile()`` and what goes with it, as a mixin of the knowledge base.

After ``kb.compile()``, ``rule_truth``, ``satisfaction``, ``loss`` and ``truth(rule)`` run
every constraint rule through its fused kernels; a rule that cannot be fused stays eager
(one ``CompileFallbackWarning`` per rule, at ``compile()``, naming it and why). Facts about
learned predicates (``facts(P)``) are already evaluated on their listed rows only, and stay
as they are.
"""

from __future__ import annotations

from .. import ast

# SymPy and the code generator load on first use, not at ``import nesy``


class CompiledRules:
    """Mixin: ``compile()``, ``compiled_source(rule)`` and ``formula(rule)``."""

    _compiled = None  # rule name -> CompiledFormula, or the NotFusable that keeps it eager
    _compiled_semantics = None

    def compile(self):
        """Evaluate every constraint rule with fused kernels from now on; returns ``self``.

        Kernels are generated for the current semantics and compiled by Numba on first use
        (and cached on disk); results equal the eager path's, values and gradients.

        >>> import nesy
        >>> kb = nesy.logic.loads('''
        ...     domain P size 4.
        ...     predicate R(P, P).
        ...     R(0, 1). R(1, 2).
        ...     rule trans: forall x, y, z: R(x, y) and R(y, z) -> R(x, z).
        ... ''').compile()
        >>> round(kb.rule_truth("trans").item(), 4)
        0.875
        """
        from . import NotFusable, compile_formula, warn_fallback

        compiled = {}
        for name, rule in self.rules.items():
            if not isinstance(rule, ast.Constraint):
                continue
            try:
                compiled[name] = compile_formula(rule.formula, self.semantics)
            except NotFusable as why:
                warn_fallback(f"rule {name}", why)
                compiled[name] = why
        self._compiled = compiled
        self._compiled_semantics = self.semantics
        return self

    def _compiled_rule_truth(self, name):
        """The truth of rule ``name`` by its kernels, or None where it is evaluated eagerly."""
        from . import CompiledFormula

        if self._compiled is None:
            return None
        if self.semantics != self._compiled_semantics:  # changed since compile(): again
            self.compile()
        compiled = self._compiled.get(name)
        if not isinstance(compiled, CompiledFormula):
            return None
        return compiled.evaluate(self._env(), label=name, max_groundings=self.max_groundings,
                                 formula=self.rules[name].formula)

    def _compiled_formula(self, rule):
        from . import compile_formula

        if rule not in self.rules:
            known = ", ".join(self.rules) or "none"
            raise ValueError(f"no constraint rule named {rule!r} (rules: {known})")
        stmt = self.rules[rule]
        if not isinstance(stmt, ast.Constraint):
            return None
        return compile_formula(stmt.formula, self.semantics)

    def compiled_source(self, rule, target="cpu"):
        """The generated Python/Numba source of rule ``rule``'s kernels (every input taking a
        gradient); ``target="cuda"``: the ``numba.cuda`` kernels that run when the tables are
        on the GPU. A rule that cannot be fused gives a comment saying why."""
        if target not in ("cpu", "cuda"):
            raise ValueError(f"compiled_source: target must be 'cpu' or 'cuda', not {target!r}")
        from . import NotFusable

        try:
            compiled = self._compiled_formula(rule)
        except NotFusable as why:
            return f"# rule {rule} is evaluated eagerly, not compiled: {why}\n"
        if compiled is None:
            return (f"# {rule}: facts about a learned predicate, evaluated on their listed "
                    "rows only; there is no loop over groundings to fuse\n")
        return compiled.source(target)

    def formula(self, rule):
        """Rule ``rule`` as a SymPy expression in its atoms' truths under the semantics
        (quantifiers as ``ForAll``/``Exists``); notebooks show it as LaTeX."""
        import sympy

        from . import NotFusable
        from .sympy_form import ForAll, SymbolicSemantics

        try:
            compiled = self._compiled_formula(rule)
        except NotFusable as why:
            raise ValueError(f"rule {rule} has no SymPy form: {why}") from None
        if compiled is not None:
            return compiled.sympy()
        group = self.rules[rule]  # facts(P): the forall over the listed rows, one per fact
        fact = sympy.Symbol("fact")
        body = sympy.Function(group.predicate)(fact)
        if group.negated:
            try:
                body = SymbolicSemantics(self.semantics).not_(body)
            except NotFusable as why:
                raise ValueError(f"{rule} has no SymPy form: {why}") from None
        return ForAll(body, sympy.Tuple(fact), sympy.Symbol(self.semantics.forall_op),
                      sympy.Float(self.semantics.p_forall, 4), sympy.true)
