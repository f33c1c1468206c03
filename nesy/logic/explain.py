"""Explanations of derived truths: how forward chaining concluded an atom, as a proof tree.

After ``kb.infer()`` the truth of ``P(c...)`` is the semantics' ``or`` over its fact degree and
the contributions of every grounding of every Horn rule with head ``P``; a grounding
contributes ``and(confidence, l_1, ..., l_k)`` of its body literals, read from the inferred
tables. ``explain`` binds a rule's head variables to the atom's constants, evaluates the body
densely over the remaining variables (one axis each, as ``chaining`` does) and keeps the ``k``
groundings that contribute most; each positive body atom of a derived predicate is explained
in turn. Negated literals and comparisons are leaves; so are atoms of table and neural
predicates. An atom already on the current path is never expanded again (cycles), and an
atom expanded once elsewhere in the tree is marked ``shared`` instead of repeated, so the tree
stays small on graphs with many paths.

>>> import nesy
>>> from nesy.logic.explain import explain
>>> kb = nesy.logic.loads("semantics godel. Edge(a, b). Edge(b, c). Path(x, y) :- Edge(x, y). "
...                       "Path(x, z) :- Edge(x, y), Path(y, z).")
>>> e = explain(kb, "Path(a, c)")
>>> e.truth, e.derivations[0].bindings
(1.0, {'x': 'a', 'z': 'c', 'y': 'b'})
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

import nesy

from . import ast
from .chaining import _variables  # read-only: the rule's variables, the head's first
from .compiler import Compiler, Layout
from .parser import parse_text


@dataclass
class Literal:
    """One ground body literal of a derivation: its text and truth; for ``not A``,
    ``atom_truth`` is the truth of ``A``; ``explanation`` explains a positive atom."""

    text: str
    kind: str  # "atom", "not" or "compare"
    truth: float
    atom_truth: float | None = None
    explanation: Explanation | None = None
    ground: object = field(default=None, repr=False, compare=False)  # the atom to explain


@dataclass
class Derivation:
    """One grounding of one Horn rule whose head is the explained atom."""

    rule: str  # the rule's text
    label: str  # ``Path#2``: the second Horn rule with head Path
    location: str  # file:line
    bindings: dict
    contribution: float  # and(confidence, body truths)
    body: list = field(default_factory=list)


@dataclass
class Explanation:
    """Why a ground atom has its truth: its fact degree and its best rule groundings.

    ``kind`` is the predicate's kind (``derived``, ``fact`` for a table atom listed as a fact,
    ``table``, ``neural`` or ``extern``); ``status`` is ``expanded``, ``leaf``, ``cycle`` (on
    the current path), ``shared`` (expanded elsewhere in the tree) or ``depth`` (cut off)."""

    atom: str
    truth: float
    kind: str
    fact_degree: float | None = None
    status: str = "leaf"
    derivations: list = field(default_factory=list)

    def to_dict(self):
        """A JSON-able dict of the whole tree (built without recursion)."""
        root = {}
        stack = [(self, root)]
        while stack:
            node, out = stack.pop()
            out.update(atom=node.atom, truth=node.truth, kind=node.kind,
                       fact_degree=node.fact_degree, status=node.status, derivations=[])
            for d in node.derivations:
                body = []
                for lit in d.body:
                    item = {"text": lit.text, "kind": lit.kind, "truth": lit.truth,
                            "atom_truth": lit.atom_truth, "explanation": None}
                    if lit.explanation is not None:
                        item["explanation"] = {}
                        stack.append((lit.explanation, item["explanation"]))
                    body.append(item)
                out["derivations"].append({
                    "rule": d.rule, "label": d.label, "location": d.location,
                    "bindings": dict(d.bindings), "contribution": d.contribution, "body": body,
                })
        return root

    @classmethod
    def from_dict(cls, data):
        """The explanation ``to_dict`` wrote (for JSON round trips)."""
        root = cls(data["atom"], data["truth"], data["kind"])
        stack = [(data, root)]
        while stack:
            src, node = stack.pop()
            node.fact_degree, node.status = src["fact_degree"], src["status"]
            for d in src["derivations"]:
                body = []
                for lit in d["body"]:
                    child = None
                    if lit["explanation"] is not None:
                        e = lit["explanation"]
                        child = cls(e["atom"], e["truth"], e["kind"])
                        stack.append((e, child))
                    body.append(Literal(lit["text"], lit["kind"], lit["truth"],
                                        lit["atom_truth"], child))
                node.derivations.append(Derivation(d["rule"], d["label"], d["location"],
                                                   dict(d["bindings"]), d["contribution"], body))
        return root

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent)

    def render(self):
        """The proof tree as indented text, one line per atom and per rule grounding."""
        lines = []
        stack = [(self, 0)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, str):
                lines.append("  " * depth + node)
                continue
            lines.append("  " * depth + _headline(node))
            items = []
            for d in node.derivations:
                items.append((_rule_line(d), depth + 1))
                for lit in d.body:
                    if lit.explanation is not None:
                        items.append((lit.explanation, depth + 2))
                    else:
                        items.append((_literal_line(lit), depth + 2))
            stack.extend(reversed(items))
        return "\n".join(lines)

    def __str__(self):
        return self.render()

    def _repr_html_(self):
        """The proof tree in a notebook: nested boxes, one per atom and rule grounding,
        each atom's bar as long as its truth."""
        return _TREE_CSS + "<div class='nesy-proof'>" + _html_node(self) + "</div>"

    def to_dot(self):
        """The proof tree as a Graphviz graph (``dot -Tsvg``): atoms are boxes, rule
        groundings ellipses, edges point from a conclusion to what it rests on."""
        lines = ["digraph proof {", "  rankdir=TB; node [fontname=Helvetica, fontsize=10];"]
        ids = {}
        stack = [self]
        while stack:
            node = stack.pop()
            nid = ids.setdefault(id(node), f"a{len(ids)}")
            lines.append(f"  {nid} [shape=box, label={_dot(_headline(node))}];")
            for j, d in enumerate(node.derivations):
                rid = f"{nid}_r{j}"
                lines.append(f"  {rid} [shape=ellipse, label="
                             f"{_dot(f'{d.label}: contributes {_fmt(d.contribution)}')}];")
                lines.append(f"  {nid} -> {rid};")
                for k, lit in enumerate(d.body):
                    if lit.explanation is not None:
                        cid = ids.setdefault(id(lit.explanation), f"a{len(ids)}")
                        stack.append(lit.explanation)
                    else:
                        cid = f"{rid}_l{k}"
                        lines.append(f"  {cid} [shape=plaintext, label="
                                     f"{_dot(_literal_line(lit))}];")
                    lines.append(f"  {rid} -> {cid};")
        lines.append("}")
        return "\n".join(lines)


_TREE_CSS = """<style>
.nesy-proof ul { list-style: none; margin: 0 0 0 1.2em; padding-left: 0.6em;
  border-left: 1px solid #bbb; }
.nesy-proof li { margin: 2px 0; }
.nesy-proof .atom { font-family: monospace; }
.nesy-proof .bar { display: inline-block; height: 0.7em; background: #4c72b0;
  margin-right: 0.4em; vertical-align: middle; }
.nesy-proof .rule { color: #555; font-size: 90%; }
.nesy-proof .note { color: #888; font-size: 85%; }
</style>"""


def _html_node(root):
    """Nested lists built with an explicit stack (deep trees need no recursion)."""
    import html

    out = []
    stack = [("node", root)]
    while stack:
        kind, item = stack.pop()
        if kind == "text":
            out.append(item)
            continue
        if kind == "literal":
            out.append(f"<li><span class='atom'>{html.escape(_literal_line(item))}</span></li>")
            continue
        node = item
        width = max(0.0, min(1.0, abs(node.truth))) * 4
        head = _headline(node)
        out.append(f"<li><span class='bar' style='width:{width:.2f}em'></span>"
                   f"<span class='atom'>{html.escape(head)}</span>")
        todo = [("text", "</li>")]
        if node.derivations:
            parts = [("text", "<ul>")]
            for d in node.derivations:
                bindings = ", ".join(f"{k}={v}" for k, v in d.bindings.items())
                parts.append(("text", f"<li><span class='rule'>rule {html.escape(d.label)} "
                                      f"({html.escape(d.location)}) with "
                                      f"{html.escape(bindings)}: contributes "
                                      f"{_fmt(d.contribution)}</span><ul>"))
                for lit in d.body:
                    if lit.explanation is not None:
                        parts.append(("node", lit.explanation))
                    else:
                        parts.append(("literal", lit))
                parts.append(("text", "</ul></li>"))
            parts.append(("text", "</ul>"))
            todo = parts + todo
        stack.extend(reversed(todo))
    return "<ul>" + "".join(out) + "</ul>"


def _dot(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fmt(x):
    return f"{x:.4g}"


def _headline(node):
    extra = []
    if node.fact_degree is not None:
        extra.append(f"fact, degree {_fmt(node.fact_degree)}")
    elif node.kind != "derived":
        extra.append(node.kind)
    notes = {"cycle": "already on this path: not expanded again",
             "shared": "explained elsewhere in this tree", "depth": "depth limit reached"}
    if node.status in notes:
        extra.append(notes[node.status])
    if node.kind == "derived" and node.status == "expanded" and not node.derivations:
        extra.append("no rule grounding contributes")
    suffix = f"  [{'; '.join(extra)}]" if extra else ""
    return f"{node.atom} = {_fmt(node.truth)}{suffix}"


def _rule_line(d):
    bindings = ", ".join(f"{k}={v}" for k, v in d.bindings.items())
    return (f"[rule {d.label} at {d.location}: {d.rule}  {bindings}  "
            f"contributes {_fmt(d.contribution)}]")


def _literal_line(lit):
    if lit.kind == "not":
        return f"{lit.text} = {_fmt(lit.truth)}  [{lit.text[4:]} = {_fmt(lit.atom_truth)}]"
    if lit.kind == "compare":
        return f"{lit.text}: {'true' if lit.truth else 'false'}"
    return f"{lit.text} = {_fmt(lit.truth)}"


def explain(kb, atom, k=3, depth=None):
    """The proof tree of ground ``atom`` (text such as ``"Path(a, c)"`` or an ``ast.Atom``
    with constants): its truth, fact degree and the ``k`` rule groundings contributing most,
    their body atoms explained recursively up to ``depth`` rule levels (None: unbounded).
    Runs ``kb.infer()`` first if it has not run."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be at least 0, got {depth}")
    return _Explainer(kb, k).run(_ground_after_infer(kb, atom), depth)


def _ground_after_infer(kb, atom):
    """``atom`` parsed (text) or as given, after ``kb.infer()`` if it has not run."""
    ground = parse_atom(kb, atom) if isinstance(atom, str) else atom
    for p, info in kb.signature.predicates.items():
        if info.kind == "derived":
            kb._ensure_inferred(p)
    return ground


@dataclass
class Support:
    """One conclusion a ground atom helps derive: the rule grounding that uses it."""

    conclusion: str  # the head atom, ground
    truth: float  # the conclusion's truth
    rule: str
    label: str  # ``Head#k``
    location: str
    bindings: dict
    contribution: float  # this grounding's contribution to the conclusion
    negated: bool  # the atom occurs as ``not A`` in the body

    def __str__(self):
        use = "its absence (not ...)" if self.negated else "it"
        bindings = ", ".join(f"{k}={v}" for k, v in self.bindings.items())
        return (f"{self.conclusion} = {_fmt(self.truth)}  <- rule {self.label} at "
                f"{self.location} with {bindings}, through {use}, contributes "
                f"{_fmt(self.contribution)}")


class Supports(list):
    """The answer of ``why``: a list of ``Support``, printable."""

    def __init__(self, atom, items):
        super().__init__(items)
        self.atom = atom

    def _repr_html_(self):
        import html

        rows = "".join(
            f"<tr><td>{html.escape(s.conclusion)}</td><td>{_fmt(s.truth)}</td>"
            f"<td>{html.escape(s.label)}{' (through not)' if s.negated else ''}</td>"
            f"<td>{html.escape(', '.join(f'{k}={v}' for k, v in s.bindings.items()))}</td>"
            f"<td>{_fmt(s.contribution)}</td></tr>" for s in self)
        return (f"<p><b>{html.escape(self.atom)}</b> supports {len(self)} "
                f"conclusion{'s' * (len(self) != 1)}</p><table><tr><th>conclusion</th>"
                f"<th>truth</th><th>rule</th><th>bindings</th><th>contribution</th></tr>"
                f"{rows}</table>")

    def __str__(self):
        if not self:
            return f"{self.atom} supports no conclusion"
        return "\n".join([f"{self.atom} supports:"] + [f"  {s}" for s in self])


def why(kb, atom, k=None):
    """The conclusions ground ``atom`` directly supports: every grounding of every Horn
    rule with a body literal on ``atom`` (positive, or ``not atom``) that contributes more
    than 0, best first (at most ``k``; None: all). Runs ``kb.infer()`` first if needed."""
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ground = _ground_after_infer(kb, atom)
    explainer = _Explainer(kb, k=kb.max_groundings if k is None else k)
    found = []
    for rule in explainer.horn:
        for lit in rule.body:
            negated = isinstance(lit, ast.Not)
            body_atom = lit.operand if negated else lit
            if not isinstance(body_atom, ast.Atom) or body_atom.predicate != ground.predicate:
                continue
            binding = _bind_head(body_atom, ground)  # unify the literal with the atom
            if binding is None:
                continue
            for contribution, names, _ in explainer.groundings(rule, binding):
                head = _substitute(rule.head, {v: _const(kb, n, _domain_of(rule, v))
                                               for v, n in names.items()})
                found.append(Support(str(head), explainer.truth(head), str(rule),
                                     kb.horn_label(rule),
                                     f"{rule.span.filename}:{rule.span.line}", names,
                                     contribution, negated))
    found.sort(key=lambda s: -s.contribution)
    return Supports(str(ground), found if k is None else found[:k])


def _domain_of(rule, name):
    return next(n.domain for n in ast.walk(rule) if isinstance(n, ast.Var) and n.name == name)


def parse_atom(kb, text):
    """``Pred(c, ...)`` as an ``ast.Atom`` of typed constants of ``kb``; ValueError if not."""
    try:
        stmts = parse_text(text.strip().rstrip(".") + ".", "<atom>")
    except ValueError as exc:  # RuleError: keep its first line, the rest points into <atom>
        raise ValueError(f"cannot read atom {text!r}: expected Predicate(constant, ...) "
                         f"({str(exc).splitlines()[0]})") from None
    if len(stmts) != 1 or not isinstance(stmts[0], ast.Fact) or stmts[0].degree != 1.0:
        raise ValueError(f"cannot read atom {text!r}: expected Predicate(constant, ...)")
    parsed = stmts[0].atom
    info = kb.signature.predicates.get(parsed.predicate)
    if info is None:
        known = ", ".join(sorted(kb.signature.predicates)) or "none"
        raise ValueError(f"unknown predicate {parsed.predicate!r} (known: {known})")
    if len(parsed.args) != info.arity:
        raise ValueError(f"{parsed.predicate} takes {info.arity} argument"
                         f"{'s' * (info.arity != 1)}, got {len(parsed.args)}")
    args = []
    for arg, domain in zip(parsed.args, info.arg_types):
        index = kb.signature.domains[domain].index_of(arg.name)
        size = kb._sizes.get(domain)
        if index is None or (size is not None and index >= size):
            raise ValueError(f"unknown individual {arg.name!r} of domain {domain}")
        args.append(_const(kb, arg.name, domain))
    return ast.Atom(parsed.predicate, tuple(args))


def _const(kb, name, domain):
    info = kb.signature.domains[domain]
    value = float(info.values[info.index_of(name)]) if info.numeric else None
    return ast.Const(name, domain, value)


class _Explainer:
    """Builds the tree breadth-first with an explicit queue: long chains need no recursion."""

    def __init__(self, kb, k):
        self.kb = kb
        self.k = k
        self.env = kb._env()  # reads the inferred tables for derived predicates
        if kb.semantics.certainty:  # given atoms as CFs too: "not P(c)." is -1
            from .certainty import _CFEnv

            self.env = _CFEnv(kb)
            self.env.tables.update(kb._inferred)
        self.sem = replace(kb.semantics, stable=False)  # as chaining computed them
        self.horn = list(kb.program.of_type(ast.HornRule))
        self.facts = {}  # (predicate, names) -> degree, read per table predicate as needed
        self.expanded = set()

    def run(self, atom, depth):
        root = self.node(atom)
        queue = deque([(root, atom, depth, frozenset())])
        while queue:
            node, atom, left, path = queue.popleft()
            key = _key(atom)
            if node.kind != "derived":
                continue
            if key in path:
                node.status = "cycle"
            elif key in self.expanded:
                node.status = "shared"
            elif left == 0:
                node.status = "depth"
            else:
                self.expanded.add(key)
                node.status = "expanded"
                node.derivations = self.derivations(atom)
                inner = None if left is None else left - 1
                for d in node.derivations:
                    for lit in d.body:
                        if lit.explanation is not None:
                            queue.append((lit.explanation, lit.ground, inner, path | {key}))
        return root

    def truth(self, formula):
        with nesy.no_grad():
            out = Compiler(self.env, self.sem, self.kb.max_groundings).evaluate(formula)
        return float(out.detach().numpy())

    def node(self, atom):
        info = self.kb.signature.predicates[atom.predicate]
        kind, degree = info.kind, None
        if kind in ("derived", "table"):  # facts from the file, add_fact(s), tables
            if atom.predicate not in self.facts:
                self.facts[atom.predicate] = self.kb.facts(atom.predicate)
            degree = self.facts[atom.predicate].get(_key(atom)[1]) or None
            if kind == "table":
                kind = "table" if degree is None else "fact"
        return Explanation(str(atom), self.truth(atom), kind, degree)

    def derivations(self, atom):
        """The best ``k`` derivations, each positive body atom with its (unexpanded) node."""
        found = []
        rules = [r for r in self.horn if r.head.predicate == atom.predicate]
        for rule in rules:
            binding = _bind_head(rule.head, atom)
            if binding is None:
                continue
            for contribution, names, literals in self.groundings(rule, binding):
                d = Derivation(str(rule), self.kb.horn_label(rule),
                               f"{rule.span.filename}:{rule.span.line}", names, contribution)
                found.append((d, literals))
        found.sort(key=lambda item: -item[0].contribution)  # stable: ties keep rule order
        out = []
        for d, literals in found[: self.k]:
            for lit in literals:
                if lit.kind == "atom":
                    lit.explanation = self.node(lit.ground)
            d.body = literals
            out.append(d)
        return out

    def groundings(self, rule, binding):
        """(contribution, bindings by name, literals) of the rule's groundings with the head
        bound, for those contributing more than 0; at most ``k`` per rule."""
        layout, scope, free = Layout(), {}, []
        for var in _variables(rule):
            if var.name not in binding and var.name not in scope:
                scope[var.name] = layout.new_axis(self.env.var_size(var), var.name)
                free.append(var)
        body = [_substitute(lit, binding) for lit in rule.body]
        compiler = Compiler(self.env, self.sem, self.kb.max_groundings)
        compiler.layout, compiler.axes_of = layout, {}
        full = tuple(layout.sizes)
        grids, mask = [], np.ones(full, dtype=bool)
        truth = nesy.ones((), dtype=self.env.dtype)
        confidence = self.kb.rule_confidence(rule)
        if confidence is not None:
            truth = nesy.tensor(np.asarray(float(confidence), dtype=self.env.dtype))
        cf = self.sem.certainty
        premise = np.ones(full)  # certainty factors: the minimum of the premises' CFs
        with nesy.no_grad():
            for lit in body:
                if isinstance(lit, ast.Compare):
                    m = np.broadcast_to(compiler.compare(lit, scope), full)
                    mask = mask & m
                    grids.append((m, None))
                    continue
                inner = None
                if isinstance(lit, ast.Not):
                    inner = np.broadcast_to(compiler.node(lit.operand, scope).numpy(), full)
                if cf:  # not A has CF -CF(A)
                    t = -inner if inner is not None else compiler.node(lit, scope).numpy()
                    premise = np.minimum(premise, t)
                else:
                    t = compiler.node(lit, scope)
                    truth = self.sem.and_(truth, t)
                    t = t.numpy()
                grids.append((np.broadcast_to(t, full), inner))
        if cf:  # MYCIN: the rule fires above the threshold, concluding confidence * premise
            from .certainty import FIRING_SLACK

            fires = mask & (premise > self.sem.threshold + FIRING_SLACK)
            values = np.where(fires, float(truth.numpy()) * premise, 0.0)
        else:
            values = np.where(mask, np.broadcast_to(truth.detach().numpy(), full), 0.0)
        flat = values.reshape(-1)
        best = [i for i in np.argsort(-flat, kind="stable")[: self.k] if flat[i] > 0]
        out = []
        for i in best:
            index = np.unravel_index(i, full) if full else ()
            names = {v: c.name for v, c in binding.items()}
            local = dict(binding)
            for var, j in zip(free, index):
                name = self.kb._individual_names(var.domain)[j]
                names[var.name] = name
                local[var.name] = _const(self.kb, name, var.domain)
            literals = [self.literal(lit, local, grid, inner, index)
                        for lit, (grid, inner) in zip(rule.body, grids)]
            out.append((float(flat[i]), names, literals))
        return out

    def literal(self, lit, binding, grid, inner, index):
        ground = _substitute(lit, binding)
        value = float(grid[index])
        if isinstance(lit, ast.Compare):
            return Literal(str(ground), "compare", value)
        if isinstance(lit, ast.Not):
            return Literal(str(ground), "not", value, float(inner[index]))
        return Literal(str(ground), "atom", value, ground=ground)


def _key(atom):
    return (atom.predicate, tuple(a.name for a in atom.args))


def _bind_head(head, atom):
    """{head variable's name: constant} putting ``head`` on ``atom``, or None if it cannot."""
    binding = {}
    for arg, const in zip(head.args, atom.args):
        if isinstance(arg, ast.Var):
            if arg.name in binding and binding[arg.name].name != const.name:
                return None
            binding[arg.name] = const
        elif arg.name != const.name:
            return None
    return binding


def _substitute(node, binding):
    """``node`` with the variables in ``binding`` (keyed by name) replaced by constants."""
    if isinstance(node, ast.Var):
        const = binding.get(node.name)
        return node if const is None else replace(const, span=node.span)
    if isinstance(node, ast.Atom):
        return replace(node, args=tuple(_substitute(a, binding) for a in node.args))
    if isinstance(node, ast.Apply):
        return replace(node, args=tuple(_substitute(a, binding) for a in node.args))
    if isinstance(node, ast.Not):
        return replace(node, operand=_substitute(node.operand, binding))
    if isinstance(node, (ast.Compare, ast.Arith)):
        return replace(node, left=_substitute(node.left, binding),
                       right=_substitute(node.right, binding))
    return node
