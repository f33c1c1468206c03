"""Forward chaining on sparse relations: semi-naive evaluation with joins, not dense tables.

The dense engine (``chaining.py``) gives every rule one axis per variable, so its cost is the
product of the domain sizes. Here each predicate is a ``Relation``: the atoms with nonzero
truth, as keys and truths. A rule body is evaluated as a chain of joins: start from the rows
of one body atom, then repeatedly join the atom sharing most variables with those bound so
far, by binary search on its rows sorted by the shared positions (``Relation.matches``).
Negated atoms and comparisons filter as soon as their variables are bound. Body atoms
sharing no variable with the rest (another *component*) are never crossed with it when the
semantics' ``or`` is ``max``: a component without head variables contributes only its best
truth, ``max_g T(a, b_g) = T(a, max_g b_g)`` for a monotone t-norm.

**Semi-naive rounds.** Round 1 evaluates every rule in full. Afterwards a rule is evaluated
only once per body atom of the current stratum, with that atom restricted to the *delta*:
the atoms that were new or rose in the previous round; its other atoms read the whole
current relations. A candidate atom is merged by ``max`` (``Relation.merge``); the rows that
changed form the next delta. The stratum is done when no row changes, which takes finitely
many rounds: under ``max``/``min`` (Goedel, and every semantics on crisp inputs) every
truth is one of the inputs' truths. A Goedel stratum with few distinct input truths is
instead run as crisp closures at descending thresholds (``thresholds.py``), which derives
each atom once, at its final truth.

**Other semantics on fuzzy inputs.** A non-idempotent ``or`` (product's probabilistic sum,
Lukasiewicz's bounded sum) counts every grounding, so re-deriving an atom from a delta would
count it twice. There the engine first finds the *support* (the atoms with nonzero truth)
semi-naively, then grounds each rule once over the support into instances (head row, body
rows) and iterates ``P = or(facts, or over instances of and(confidence, body))`` on those
with nesy operations (``ground_program.py``), which also carries gradients to fact degrees,
confidences and bound models. Goedel and crisp programs take that path only when a gradient
is needed.

Memory grows with the atoms and the join results, never with the product of domain sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

import nesy

from . import ast
from .chaining import InferenceReport, round_limit
from .compiler import Compiler
from .errors import error_at
from .semantics import operator
from .stratify import strata


@dataclass
class Candidates:
    """Head keys with truths; with ``rows`` (one array per body literal, -1 for a
    comparison), the body rows of each instance."""

    keys: np.ndarray
    truth: np.ndarray
    rows: list = field(default_factory=list)


class Bindings:
    """A table of variable bindings: one index column per bound variable, one truth."""

    def __init__(self, columns, truth, rows):
        self.columns = columns  # variable name -> int64 indices
        self.truth = truth  # float64
        self.rows = rows  # literal position -> int64 rows of that literal's relation
        self.crisp = False  # known to be all 1 (joins then skip the t-norm)

    def __len__(self):
        return len(self.truth)

    def take(self, index):
        return Bindings({v: take(c, index) for v, c in self.columns.items()},
                        take(self.truth, index), {k: take(r, index) for k, r in self.rows.items()})


PARALLEL_ABOVE = 1 << 16  # gathers of more rows run on all cores


_ONE = np.ones(1)
_ONE.flags.writeable = False


def ONES(n):
    """``n`` ones as a read-only broadcast of one float (crisp truths cost no memory; built
    directly, as ``np.broadcast_to`` costs microseconds a call, thousands of calls a run)."""
    return np.ndarray((n,), dtype=np.float64, buffer=_ONE, strides=(0,))


def take(values, index):
    """``values[index]``, on all cores for large ``index``."""
    if values.ndim == 1 and values.strides == (0,) and len(values) > 1:  # a broadcast
        return np.broadcast_to(values[:1], (len(index),))
    if len(index) < PARALLEL_ABOVE:
        return values[index]
    from . import relation_kernels as K

    out = np.empty(len(index), dtype=values.dtype)
    K.gather(values, np.ascontiguousarray(index, np.int64), out)
    return out


AND_CODES = {"min": 0, "prod": 1, "luk": 2}
CHUNK = 1 << 22  # delta rows joined at a time: bounds the memory of one join
LEVELS = 64  # at most this many truth levels for fuzzy deltas (``semi_naive``)


def connectives(sem):
    """NumPy ``and(x, y)`` and ``not(x)`` of the semantics (built-ins directly, any
    registered operator through nesy tensors)."""
    ands = {"min": np.minimum, "prod": np.multiply,
            "luk": lambda x, y: np.maximum(x + y - 1.0, 0.0)}
    and_ = ands.get(sem.and_op)
    if and_ is None:
        fn = operator("and", sem.and_op)

        def and_(x, y):
            x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
            with nesy.no_grad():
                return fn(nesy.tensor(x), nesy.tensor(y), stable=False).numpy()
    if sem.not_op == "standard":
        def not_(x):
            return 1.0 - x
    else:
        fn_not = operator("not", sem.not_op)

        def not_(x):
            with nesy.no_grad():
                return fn_not(nesy.tensor(np.asarray(x, np.float64)), stable=False).numpy()
    return and_, not_


class RulePlan:
    """One Horn rule prepared for joins: its literals, components and head layout."""

    def __init__(self, rule, kb):
        self.rule = rule
        self.head = rule.head
        self.literals = list(rule.body)
        self.positive = [i for i, lit in enumerate(self.literals) if isinstance(lit, ast.Atom)]
        confidence = kb.rule_confidence(rule)
        self.learned = confidence if isinstance(confidence, nesy.Tensor) else None
        if self.learned is not None:
            confidence = float(self.learned.item())
        self.confidence = 1.0 if confidence is None else float(confidence)
        self.head_vars = {a.name for a in rule.head.args if isinstance(a, ast.Var)}
        self.vars = [frozenset(_vars_of(lit)) for lit in self.literals]
        self.components = self._components()

    def _components(self):
        """Groups of literal positions connected by shared variables (union-find)."""
        parent = list(range(len(self.literals)))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        owner = {}
        for i, variables in enumerate(self.vars):
            for v in variables:
                if v in owner:
                    parent[find(i)] = find(owner[v])
                else:
                    owner[v] = i
        groups = {}
        for i in range(len(self.literals)):
            groups.setdefault(find(i), []).append(i)
        return list(groups.values())

    def recursive_atoms(self, group):
        return [i for i in self.positive if self.literals[i].predicate in group]


def _vars_of(node):
    return {n.name for n in ast.walk(node) if isinstance(n, ast.Var)}


class SparseEngine:
    """Runs the Horn rules of a knowledge base on relations; see the module docstring."""

    def __init__(self, kb, max_iters, tol):
        self.kb = kb
        self.env = kb._env()
        self.sem = replace(kb.semantics, stable=False)
        self.and_, self.not_ = connectives(self.sem)
        self.max_iters = max_iters
        self.tol = tol
        self.relations = {}  # predicate -> Relation (derived ones as they are computed)
        self.horn = [s for s in kb.program.statements if isinstance(s, ast.HornRule)]
        self.derived = {p for p, i in kb.signature.predicates.items() if i.kind == "derived"}
        self.support = None  # the stratum whose support is being found (0/1 truths)
        self.indicators = {}
        self.facts = {}  # derived predicate -> the relation of its facts
        self.tensors = {}  # predicate -> truths of its relation's rows, with gradients
        # the threshold closure's stand-ins (``thresholds.py``): a name for a relation under
        # another predicate's arguments, and the relation a negation reads instead
        self.aliases = {}
        self.negated_from = {}

    # --- relations ------------------------------------------------------------------------

    def relation(self, predicate, span=ast.NOWHERE):
        """The relation of ``predicate``: computed, or its facts/table/model outputs."""
        rel = self.relations.get(predicate)
        if rel is None:
            rel = self.kb._fact_relation(predicate, span)
            self.relations[predicate] = rel
        return rel

    def joined(self, predicate, span=ast.NOWHERE):
        """The relation a positive body literal joins with: while finding a support, the
        0/1 indicator of a predicate outside the stratum."""
        rel = self.relation(predicate, span)
        if self.support is None or predicate in self.support:
            return rel
        view = self.indicators.get(predicate)
        if view is None or view[0] is not rel:
            view = (rel, rel.indicator())
            self.indicators[predicate] = view
        return view[1]

    def arg_types(self, predicate):
        return self.kb.signature.predicates[self.aliases.get(predicate, predicate)].arg_types

    # --- one rule -------------------------------------------------------------------------

    def evaluate(self, plan, driver=None, driver_rows=None, record=False):
        """Candidates of ``plan``'s head: every grounding of the body, or those using the
        rows ``driver_rows`` of literal ``driver``."""
        parts = []
        head_part = None
        for comp in plan.components:
            start = driver if driver in comp else None
            b = self._join(plan, comp, start, driver_rows if start is not None else None,
                           record)
            touches_head = any(plan.vars[i] & plan.head_vars for i in comp)
            if not touches_head and not record:
                # max-or: a component without head variables counts with its best truth
                best = float(b.truth.max()) if len(b) else 0.0
                parts.append(best)
            else:
                parts.append(b)
                head_part = b if head_part is None else head_part
        bindings = None
        scalar = plan.confidence
        for part in parts:
            if isinstance(part, float):
                scalar = float(self.and_(np.float64(scalar), np.float64(part)))
            elif bindings is None:
                bindings = part
            else:
                bindings = self._cross(bindings, part, plan)
        if bindings is None:  # a body without head variables: a ground head
            bindings = Bindings({}, np.ones(1), {})
        truth = self.and_(np.float64(scalar), bindings.truth) if scalar != 1.0 else bindings.truth
        keys = self._head_keys(plan, bindings)
        rows = [bindings.rows.get(i) for i in range(len(plan.literals))] if record else []
        return Candidates(keys, np.asarray(truth, dtype=np.float64), rows)

    def _head_keys(self, plan, b):
        head = plan.head
        rel = self.relation(head.predicate, head.span)
        n = len(b)
        cols = []
        types = self.kb.signature.predicates[head.predicate].arg_types
        for pos, arg in enumerate(head.args):
            if isinstance(arg, ast.Var):
                cols.append(b.columns[arg.name])
            else:
                cols.append(np.full(n, self.env.const_index(arg, types[pos]), dtype=np.int64))
        return rel.encode(cols) if cols else np.zeros(n, dtype=np.int64)

    def _cross(self, left, right, plan):
        """Bindings of two components with head variables: all pairs (the head needs them)."""
        n = len(left) * len(right)
        if n > self.kb.max_groundings:
            raise error_at(plan.rule.span, f"Horn rule: its body's unconnected parts give "
                           f"{n:,} groundings, above the budget of {self.kb.max_groundings:,}",
                           self.env.source(plan.rule.span))
        li = np.repeat(np.arange(len(left)), len(right))
        ri = np.tile(np.arange(len(right)), len(left))
        a, b = left.take(li), right.take(ri)
        a.columns.update(b.columns)
        a.rows.update(b.rows)
        a.truth = self.and_(a.truth, b.truth)
        return a

    def _join(self, plan, comp, start, start_rows, record):
        """Bindings of one component's literals, joined atom by atom."""
        atoms = [i for i in comp if i in plan.positive]
        filters = [i for i in comp if i not in plan.positive]
        if not atoms:  # only comparisons over constants
            b = Bindings({}, np.ones(1), {})
            return self._apply_filters(plan, b, filters, record)
        first = start if start is not None else atoms[0]
        atom = plan.literals[first]
        rel = self.joined(atom.predicate, atom.span)
        rows = np.arange(rel.n) if start_rows is None else np.asarray(start_rows, np.int64)
        truth = ONES(len(rows)) if rel.all_top else rel.truth[rows].astype(np.float64)
        b = Bindings({}, truth, {first: rows} if record else {})
        b.crisp = rel.all_top
        b = self._bind_atom(plan, first, rel, b, rows)
        left = [i for i in atoms if i != first]
        b, filters = self._apply_ready(plan, b, filters, record)
        while left:
            bound = set(b.columns)
            left.sort(key=lambda i: -len(plan.vars[i] & bound))
            i = left.pop(0)
            after = set(plan.head_vars).union(  # variables needed after this join
                *(plan.vars[j] for j in [*left, *filters]))
            b = self._join_atom(plan, i, b, record, after)
            b, filters = self._apply_ready(plan, b, filters, record)
        return self._apply_filters(plan, b, filters, record)

    def _join_atom(self, plan, i, b, record, after):
        """Join literal ``i`` (an atom) into the bindings ``b`` on the variables it shares."""
        atom = plan.literals[i]
        rel = self.joined(atom.predicate, atom.span)
        types = self.arg_types(atom.predicate)
        positions, probe = [], []
        for pos, arg in enumerate(atom.args):
            if isinstance(arg, ast.Var) and arg.name in b.columns:
                positions.append(pos)
                probe.append(b.columns[arg.name])
            elif isinstance(arg, ast.Const):
                positions.append(pos)
                probe.append(np.full(len(b), self.env.const_index(arg, types[pos]), np.int64))
        if positions:
            left, right = rel.matches(tuple(positions), rel.sub_key(probe, positions))
        else:  # shares nothing yet (same component through a later literal)
            n = len(b) * rel.n
            if n > self.kb.max_groundings:
                raise error_at(atom.span, f"join of {atom} gives {n:,} rows, above the "
                               f"budget of {self.kb.max_groundings:,}",
                               self.env.source(atom.span))
            left = np.repeat(np.arange(len(b)), rel.n)
            right = np.tile(np.arange(rel.n), len(b))
        out = Bindings({v: take(c, left) for v, c in b.columns.items() if v in after},
                       self._and_gather(b.truth, left, rel.truth, right,
                                        b.crisp and rel.all_top),
                       {k: take(r, left) for k, r in b.rows.items()})
        out.crisp = b.crisp and rel.all_top
        if record:
            out.rows[i] = right
        return self._bind_atom(plan, i, rel, out, right, positions, after)

    def _and_gather(self, left_truth, left, right_truth, right, crisp=False):
        if crisp:  # both sides all 1: so is every t-norm of them (a broadcast, no memory)
            return ONES(len(left))
        code = AND_CODES.get(self.sem.and_op)
        if code is None or len(left) < PARALLEL_ABOVE:
            return np.asarray(self.and_(left_truth[left], right_truth[right]), np.float64)
        from . import relation_kernels as K

        out = np.empty(len(left), dtype=np.float64)
        K.and_gather(left_truth, np.ascontiguousarray(left, np.int64), right_truth,
                     np.ascontiguousarray(right, np.int64), code, out)
        return out

    def _bind_atom(self, plan, i, rel, b, rows, matched=(), after=None):
        """Variables of literal ``i`` from its matched ``rows``; constants and repeated
        variables filter. Positions in ``matched`` are equal by the join already; a variable
        used nowhere ``after`` (and once here) is not decoded."""
        atom = plan.literals[i]
        types = self.arg_types(atom.predicate)
        names = [a.name for a in atom.args if isinstance(a, ast.Var)]
        keep = None
        for pos, arg in enumerate(atom.args):
            if pos in matched or (after is not None and isinstance(arg, ast.Var) and
                                  arg.name not in after and names.count(arg.name) == 1):
                continue
            col = rel.decode_rows(rows, pos)
            if isinstance(arg, ast.Const):
                ok = col == self.env.const_index(arg, types[pos])
            elif arg.name in b.columns:
                ok = col == b.columns[arg.name]
            else:
                b.columns[arg.name] = col
                continue
            keep = ok if keep is None else keep & ok
        if keep is not None and not keep.all():
            b = b.take(np.flatnonzero(keep))
        return b

    def _apply_ready(self, plan, b, filters, record):
        ready = [i for i in filters if plan.vars[i] <= b.columns.keys()]
        if ready:
            b = self._apply_filters(plan, b, ready, record)
        return b, [i for i in filters if i not in ready]

    def _apply_filters(self, plan, b, filters, record):
        for i in filters:
            lit = plan.literals[i]
            if isinstance(lit, ast.Compare):
                ok = self._compare(lit, b)
                b = b.take(np.flatnonzero(np.broadcast_to(ok, (len(b),))))
                if record:
                    b.rows[i] = np.full(len(b), -1, dtype=np.int64)
                continue
            atom = lit.operand
            rel = self.negated_from.get(atom.predicate)
            if rel is None:
                rel = self.relation(atom.predicate, atom.span)
            types = self.arg_types(atom.predicate)
            cols = [b.columns[a.name] if isinstance(a, ast.Var)
                    else np.full(len(b), self.env.const_index(a, types[p]), np.int64)
                    for p, a in enumerate(atom.args)]
            keys = rel.encode(cols) if cols else np.zeros(len(b), dtype=np.int64)
            rows = rel.rows_of(keys)
            value = np.where(rows >= 0, rel.truth[np.maximum(rows, 0)], 0.0)
            b.truth = self.and_(b.truth, self.not_(value))
            if record:
                b.rows[i] = rows
            nonzero = np.flatnonzero(b.truth > 0)
            if len(nonzero) < len(b):
                b = b.take(nonzero)
        return b

    def _compare(self, lit, b):
        """A comparison on the bound columns (numbers of numeric domains, else indices)."""
        numeric = lit.op not in ("=", "!=") or isinstance(lit.left, ast.Arith) or isinstance(
            lit.right, ast.Arith)
        left = self._term(lit.left, b, numeric, lit)
        right = self._term(lit.right, b, numeric, lit)
        ops = {"=": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
               ">": np.greater, ">=": np.greater_equal}
        return ops[lit.op](left, right)

    def _term(self, term, b, numeric, compare):
        if isinstance(term, ast.Arith):
            left = self._term(term.left, b, numeric, compare)
            right = self._term(term.right, b, numeric, compare)
            return {"+": np.add, "-": np.subtract, "*": np.multiply}[term.op](left, right)
        names = sorted(_vars_of(term))
        scope = {v: k for k, v in enumerate(names)}
        values, axes = self.env.term_values(term, scope, numeric)
        values = np.asarray(values)
        if not axes:
            return values
        index = tuple(b.columns[names[a]] for a in axes)
        return values[index]

    # --- strata ---------------------------------------------------------------------------

    def run(self):
        from .thresholds import ThresholdClosure

        report = InferenceReport([], [], [], True)
        for group in strata(self.horn):
            group = [p for p in group if p in self.derived]
            if not group:
                continue
            plans = [RulePlan(r, self.kb) for r in self.horn
                     if r.head.predicate in group]
            for p in group:
                span = next(pl.head.span for pl in plans if pl.head.predicate == p)
                self.facts[p] = self.kb._fact_relation(p, span)
                self.relations[p] = self.facts[p].copy()
            crisp = self.crisp(plans)
            if not self.needs_grad(plans) and (self.sem.or_op == "max" or crisp):
                closure = None if crisp else ThresholdClosure(self, group, plans)
                if closure is not None and closure.applies():
                    rounds, pending = closure.run()
                else:
                    rounds, pending = self.semi_naive(group, plans)
                change = float(pending)
            else:
                rounds, change = self.ground_and_iterate(group, plans)
            report.strata.append(group)
            report.iterations.append(rounds)
            report.changes.append(change)
            report.converged = report.converged and change < max(self.tol, 1e-300)
        return report

    # --- fuzzy truths on the ground program -----------------------------------------------

    def crisp(self, plans):
        """Whether every truth the stratum reads is 0 or 1: then semi-naive evaluation
        gives the exact least model under any semantics."""
        for plan in plans:
            if plan.confidence not in (0.0, 1.0):
                return False
            for lit in plan.literals:
                atom = lit.operand if isinstance(lit, ast.Not) else lit
                if isinstance(atom, ast.Atom):
                    truth = self.relation(atom.predicate, atom.span).current_truth
                    if not ((truth == 0.0) | (truth == 1.0)).all():
                        return False
        facts = [self.facts[p].current_truth for p in {pl.head.predicate for pl in plans}]
        return all(((t == 0.0) | (t == 1.0)).all() for t in facts)

    def needs_grad(self, plans):
        """Whether a truth the stratum reads carries a gradient (grad mode on)."""
        if not nesy.is_grad_enabled():
            return False
        for plan in plans:
            if plan.learned is not None and plan.learned.requires_grad:
                return True
            for lit in plan.literals:
                atom = lit.operand if isinstance(lit, ast.Not) else lit
                if isinstance(atom, ast.Atom):
                    tensor = self.truth_tensor(atom.predicate, atom.span)
                    if tensor is not None and tensor.requires_grad:
                        return True
        return False

    def truth_tensor(self, predicate, span):
        """A tensor with gradients behind ``predicate``'s truths: the rows' truths of a
        derived predicate computed on the ground program, or the dense table of a table
        predicate set with ``set_truths`` or of a model; None for plain facts."""
        if predicate in self.tensors:
            return self.tensors[predicate]
        info = self.kb.signature.predicates[predicate]
        tensor = None
        if info.kind in ("neural", "extern"):
            variables = tuple(ast.Var(f"_{i}", t) for i, t in enumerate(info.arg_types))
            tensor = Compiler(self.env, self.kb.semantics, self.kb.max_groundings).evaluate(
                ast.Atom(predicate, variables), variables)
        elif info.kind == "table":
            table = self.kb._tables.get(predicate)
            tensor = table if table is not None and table.requires_grad else None
        if info.kind != "derived":
            self.tensors[predicate] = tensor
        return tensor

    def ground_and_iterate(self, group, plans):
        """Support by semi-naive on 0/1 truths, instances over it, then the truths
        iterated on the instances (``ground_program``): (rounds, last change)."""
        from .ground_program import Instances, iterate

        self.support = set(group)
        for p in group:
            rel = self.relations[p]
            rel.set_truth(1.0)
        saved = self.and_, self.not_
        not_ = saved[1]
        self.and_ = np.minimum
        self.not_ = lambda x: (not_(x) > 0).astype(np.float64)
        try:
            self.semi_naive(group, plans)
            instances = {p: [] for p in group}
            for plan in plans:
                cand = self.evaluate(plan, record=True)
                head = self.relations[plan.head.predicate]
                keep = cand.truth > 0
                rows = {i: r[keep] for i, r in enumerate(cand.rows) if r is not None}
                instances[plan.head.predicate].append(
                    Instances(plan, head.rows_of(cand.keys[keep]), rows))
        finally:
            self.and_, self.not_ = saved
            self.support = None
        values, rounds, change = iterate(self, group, plans, instances, self.max_iters,
                                         self.tol)
        for p in group:
            rel = self.relations[p]
            rel.set_truth(values[p].detach().numpy())
            rel.tensor = values[p]
            self.tensors[p] = values[p]
        return rounds, change

    def fact_values(self, predicate):
        """The fact degree of each row of a derived relation, as a tensor."""
        rel = self.relations[predicate]
        degrees = self.facts[predicate].truth_of(rel.current_keys)
        return nesy.tensor(degrees.astype(self.kb.dtype_name))

    def literal_values(self, predicate, rows, values):
        """Truths of ``predicate`` at relation ``rows`` (-1: absent, truth 0), as a tensor
        that keeps gradients where the truths have them."""
        rel = self.relation(predicate)
        safe = np.maximum(rows, 0)
        if not (rows >= 0).any():
            return nesy.zeros(len(rows), dtype=getattr(nesy, self.kb.dtype_name))
        if predicate in values:
            out = values[predicate][safe]
        else:
            tensor = self.truth_tensor(predicate, ast.NOWHERE)
            if tensor is None:
                return nesy.tensor(np.where(rows >= 0, rel.truth[safe], 0.0).astype(
                    self.kb.dtype_name))
            if self.kb.signature.predicates[predicate].kind == "derived":
                out = tensor[safe]
            else:
                out = tensor.reshape(-1)[rel.keys[safe]]
        if (rows < 0).any():
            out = nesy.where(rows >= 0, out, 0.0)
        return out

    def contributions(self, inst, values):
        """``and(confidence, literals)`` of every instance, as a tensor (None: no instance)."""
        if not len(inst.head_rows):
            return None
        plan = inst.plan
        truth = plan.learned
        if truth is None and plan.confidence != 1.0:
            truth = nesy.tensor(np.asarray(plan.confidence, dtype=self.kb.dtype_name))
        for i, lit in enumerate(plan.literals):
            if isinstance(lit, ast.Compare):
                continue
            negated = isinstance(lit, ast.Not)
            atom = lit.operand if negated else lit
            value = self.literal_values(atom.predicate, inst.literal_rows[i], values)
            if negated:
                value = self.sem.not_(value)
            truth = value if truth is None else self.sem.and_(truth, value)
        if truth is None:
            truth = nesy.ones(len(inst.head_rows), dtype=getattr(nesy, self.kb.dtype_name))
        if truth.ndim == 0:
            truth = truth.expand(len(inst.head_rows))
        return truth

    def semi_naive(self, group, plans):
        """Rounds until no atom is new or rises: (rounds, atoms still changing).

        Under a fuzzy ``max``, an atom's truth may rise many times, one round per step of a
        chain of ever better derivations. To keep that short, deltas are propagated by
        truth from the top, level by level (``floors``): rows below the current floor wait
        in the bucket of their level until nothing at or above the floor changes (no
        derivation through them can give more than their own truth, so the atoms above the
        floor are then final and later candidates for them are dropped at a glance); then
        the next level's rows go. With one level per distinct input truth, each atom is
        propagated once, at its final truth.
        """
        changed = {p: [] for p in group}
        for plan in plans:  # round 1: everything
            self._merge(plan, self.evaluate(plan), changed)
        delta = collect_deltas(self.relations, changed)
        if not any(plan.recursive_atoms(group) for plan in plans):
            return 1, 0
        floors = self.floors()
        held = {p: {} for p in group}  # level -> rows waiting for it
        level_rows = {p: [] for p in group}  # rows propagated at the current level
        level, rounds = 0, 1
        while rounds < self.max_iters:
            delta = self._hold(delta, held, floors, level)
            if not any(len(d) for d in delta.values()):
                if not any(held.values()):
                    return rounds, 0
                for p, rows in level_rows.items():  # final now
                    self.relations[p].mark_final(np.concatenate(rows) if rows else rows)
                level_rows = {p: [] for p in group}
                level = min(k for h in held.values() for k in h)
                delta = {}
                for p, h in held.items():
                    rows = np.concatenate(h.pop(level, [np.empty(0, np.int64)]))
                    delta[p] = self.relations[p].split(rows, floors[level - 1])[1]  # not stale
                continue
            rounds += 1
            for p, rows in delta.items():
                if len(floors) > 1 and len(rows):
                    level_rows[p].append(rows)
            changed = {p: [] for p in group}
            for plan in plans:
                for i in plan.recursive_atoms(group):
                    rows = delta.get(plan.literals[i].predicate)
                    for start in range(0, len(rows) if rows is not None else 0, CHUNK):
                        cand = self.evaluate(plan, i, rows[start:start + CHUNK])
                        self._merge(plan, cand, changed)
            delta = collect_deltas(self.relations, changed)
        pending = sum(len(d) for d in delta.values()) + sum(
            len(r) for h in held.values() for rs in h.values() for r in rs)
        return rounds, pending

    def floors(self):
        """Truth levels to propagate deltas by, from the top, ending in 0: every distinct
        truth when there are at most ``LEVELS`` (exact: no atom rises within a level), else
        ``LEVELS`` quantiles; [0] when every truth is 1."""
        values = [rel.current_truth for rel in self.relations.values()]
        values = np.concatenate(values) if values else np.ones(1)
        values = values[values < 1.0]
        if not len(values):
            return np.zeros(1)
        distinct = np.unique(values)
        if len(distinct) > LEVELS:
            distinct = np.unique(np.quantile(values, np.linspace(0.0, 1.0, LEVELS + 1)[1:-1]))
        return np.concatenate([distinct[::-1], [0.0]]).astype(np.float64)

    def _hold(self, delta, held, floors, level):
        """Rows of ``delta`` at or above ``floors[level]``; the others wait in ``held``, in
        the bucket of their level."""
        if floors[level] <= 0.0:
            return delta
        from . import relation_kernels as K

        out = {}
        for p, rows in delta.items():
            rel = self.relations[p]
            rows = np.ascontiguousarray(rows, np.int64)
            high, low = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
            where = np.empty(len(rows), np.int64)
            nh, nl = K.split_levels(rows, rel.truth, floors.astype(rel.truth.dtype), level,
                                    high, low, where)
            out[p] = high[:nh]
            if nl:  # ``low`` comes sorted by level
                bounds = [0, *(np.flatnonzero(where[1:nl] != where[:nl - 1]) + 1), nl]
                for a, b in zip(bounds[:-1], bounds[1:]):
                    held[p].setdefault(int(where[a]), []).append(low[a:b])
        return out

    def _merge(self, plan, cand, changed):
        rel = self.relations[plan.head.predicate]
        if len(cand.keys) and rel.merge(cand.keys, cand.truth):
            changed[plan.head.predicate].append(rel.delta)


def collect_deltas(relations, changed):
    """This round's delta of each predicate (rows listed once, ``Relation.begin_round``),
    and a new round begun."""
    out = {}
    for p, ds in changed.items():
        out[p] = np.concatenate(ds) if ds else np.empty(0, np.int64)
        relations[p].begin_round()
    return out


def infer_sparse(kb, max_iters=None, tol=1e-6):
    """Derived relations of ``kb`` at the least fixpoint, and an ``InferenceReport``."""
    max_iters = round_limit(max_iters)
    engine = SparseEngine(kb, max_iters, tol)
    report = engine.run()
    out = {p: engine.relations[p] for s in report.strata for p in s}
    return out, report
