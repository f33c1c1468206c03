"""``KnowledgeBase``: a checked rule file made trainable.

It is an ``nn.Module``: its parameters are the embeddings declared in the file, the built-in
neural predicates and functions, and any module bound from Python, so ``parameters()``,
``state_dict()``, ``load_state_dict()`` and ``to()`` work as for any model. Its
``satisfaction()`` aggregates the truth of every constraint rule (weighted, with the
semantics' universal aggregator, LTN's ``SatAgg``); ``loss()`` is ``1 - satisfaction()``.

Facts about a table predicate fill its truth table (closed world: unlisted atoms are 0).
Facts about a learned predicate are supervision: the positive ones form the constraint
``facts(P)`` and the negated ones ``facts(not P)``, each aggregated like a ``forall``.
"""

from __future__ import annotations

import copy
import os

import numpy as np

from nesy.nn.module import Module
from nesy.tensor import Tensor
from nesy.tensor.device import CPU

from . import ast
from .compiled.kb_methods import CompiledRules
from .compiler import DEFAULT_MAX_GROUNDINGS, Compiler
from .data import load_facts, load_table
from .errors import error_at
from .kb_env import KBEnvironment
from .models import build_model
from .relations import Relation
from .report import kb_html, kb_text

SPARSE_FACTS_ABOVE = 1 << 22  # facts over more possible atoms are kept as rows, not a table


def _fingerprint(tensors):
    """Hashes of the tensors' values: an in-place optimizer step changes them."""
    return tuple(hash(t.detach().numpy().tobytes()) for t in tensors)


def _max_into(table, rows, degrees):
    """``table[row] = max(table[row], degree)`` for each fact (rows: ``(n, arity)``)."""
    degrees = degrees.astype(table.dtype)
    if table.ndim == 0:
        table[()] = max(table[()], degrees.max(initial=0))
    else:
        np.maximum.at(table, tuple(rows.T), degrees)


class FactGroup:
    """Facts about one learned predicate, as one constraint: ``facts(P)``/``facts(not P)``."""

    def __init__(self, predicate, negated, span):
        self.predicate = predicate
        self.negated = negated
        self.span = span
        self.facts = []  # (args as Const tuple, degree)

    @property
    def name(self):
        return f"facts({'not ' if self.negated else ''}{self.predicate})"

    def __str__(self):
        prefix = "not " if self.negated else ""
        shown = ", ".join(prefix + str(ast.Atom(self.predicate, a)) for a, _ in self.facts[:3])
        more = f", ... ({len(self.facts)} facts)" if len(self.facts) > 3 else ""
        return shown + more


class KnowledgeBase(CompiledRules, Module):
    """A trainable knowledge base; build one with ``nesy.logic.load`` or ``loads``."""

    def __init__(
        self,
        program,
        semantics=None,
        base_dir=None,
        max_groundings=DEFAULT_MAX_GROUNDINGS,
        dtype="float32",
        device=None,
    ):
        from .semantics import Semantics

        super().__init__()
        self.program = program
        # a private copy: binding, and sizes set from Python, must not leak into other
        # knowledge bases built from the same checked program
        self.signature = copy.deepcopy(program.signature)
        self._sources = dict(program.sources)
        spec = semantics if semantics is not None else self.signature.semantics
        self.semantics = Semantics.resolve(spec)
        self.base_dir = base_dir or os.getcwd()
        self.max_groundings = max_groundings
        self.dtype_name = np.dtype(dtype).name
        self._sizes = {}
        self._features = {}
        self._tables = {}
        self._function_tables = {}
        self._inferred = {}  # derived predicate -> its table from the last infer()
        self._inferring = False
        self._inferred_from = ()
        self._pending = {}  # facts over domains whose size is set later from Python
        self._sparse_facts = {}  # predicate -> [(rows (n, arity) int64, degrees)], large domains
        self._callables = {}
        self._classes = {}
        self.data_files = set()  # absolute paths of the data files the rule files named
        self.embeddings = Module()
        self.models = Module()
        self.learned_confidences = Module()  # logits of the ``t(...) ::`` Horn rules
        self.rules = {}
        self.weights = {}
        self.queries = {}
        self._init_domains()
        self._init_statements()
        self._init_confidences()
        self._init_table_files()
        self._build_models()
        if device is not None:
            self.to(device)

    # --- construction ------------------------------------------------------------------

    def _data_path(self, relative, span):
        """A data file named in a rule file, relative to that file's folder (recorded in
        ``data_files``: a resumed evaluation checks they are unchanged)."""
        if os.path.isfile(span.filename):
            path = os.path.join(os.path.dirname(os.path.abspath(span.filename)), relative)
        else:
            path = os.path.join(self.base_dir, relative)
        self.data_files.add(os.path.abspath(path))
        return path

    def _init_domains(self):
        import nesy

        declared = {s.domain: s for s in self.program.of_type(ast.FeaturesDecl)}
        for name, info in self.signature.domains.items():
            if info.known_size() is not None:
                self._sizes[name] = info.known_size()
            if info.features_path is not None:
                span = declared[name].span if name in declared else info.span
                path = self._data_path(info.features_path, span)
                try:
                    table, names = load_table(path)
                except (OSError, ValueError) as exc:
                    raise self._error(span, f"cannot read features of {name}: {exc}") from None
                if names is not None and info.individuals is not None:
                    table = self._reorder(table, names, info, span)
                self.set_features(name, table)
            elif info.embedding_size is not None:
                n = self._domain_size(name, info.span)
                weight = nesy.rand(n, info.embedding_size, dtype=getattr(nesy, self.dtype_name))
                self.embeddings.register_parameter(name, nesy.nn.Parameter(weight))

    def _reorder(self, table, names, info, span):
        missing = [n for n in info.individuals if n not in names]
        if missing:
            raise self._error(span, f"feature table lacks individuals {missing[:5]}")
        return table[[names.index(n) for n in info.individuals]]

    def _init_table_files(self):
        """Truth tables and function values named by file in declarations."""
        for stmt in self.program.statements:
            model = getattr(stmt, "model", None)
            if model is None or model.path is None:
                continue
            path = self._data_path(model.path, model.span)
            try:
                if isinstance(stmt, ast.FunctionDecl):
                    table, names = load_table(path)
                    domain = self.signature.domains[stmt.arg_types[0]]
                    if names is not None and len(stmt.arg_types) == 1 and domain.individuals:
                        table = self._reorder(table, names, domain, model.span)
                    self.set_function(stmt.name, table)
                elif path.endswith(".npy"):
                    self.set_truths(stmt.name, np.load(path, allow_pickle=False))
                else:
                    for names, degree in load_facts(path, len(stmt.arg_types)):
                        self.add_fact(stmt.name, *names, degree=degree)
            except (OSError, ValueError) as exc:
                raise self._error(model.span, f"cannot read {model.path!r}: {exc}") from None

    def _init_statements(self):
        groups = {}
        for stmt in self.program.statements:
            if isinstance(stmt, ast.Fact):
                info = self.signature.predicates[stmt.atom.predicate]
                if info.learned:
                    key = (info.name, stmt.degree == 0.0)
                    if key not in groups:
                        groups[key] = FactGroup(info.name, key[1], stmt.span)
                        self.rules[groups[key].name] = groups[key]
                        self.weights[groups[key].name] = 1.0
                    groups[key].facts.append((stmt.atom.args, stmt.degree))
                else:
                    self._set_fact(stmt.atom, stmt.degree)
            elif isinstance(stmt, ast.Constraint):
                self.rules[stmt.name] = stmt
                self.weights[stmt.name] = stmt.weight
            elif isinstance(stmt, ast.Query):
                self.queries[stmt.name] = stmt

    def _init_confidences(self):
        """Label every Horn rule ``Head#k`` (the k-th with that head) and give each
        learnable one a parameter: the logit of its confidence, ``c = sigmoid(w)``, so
        that any gradient step keeps it in (0, 1)."""
        import nesy

        counts = {}
        self._horn_labels = {}
        for stmt in self.program.statements:
            if not isinstance(stmt, ast.HornRule):
                continue
            head = stmt.head.predicate
            counts[head] = counts.get(head, 0) + 1
            self._horn_labels[id(stmt)] = f"{head}#{counts[head]}"
            if stmt.learnable:
                c = min(max(stmt.confidence, 1e-6), 1.0 - 1e-6)
                logit = nesy.tensor(np.asarray(np.log(c / (1.0 - c)), dtype=self.dtype_name))
                self.learned_confidences.register_parameter(
                    f"{head}_{counts[head]}", nesy.nn.Parameter(logit))

    def horn_label(self, rule):
        """``Head#k``: the k-th Horn rule with that head, in file order."""
        return self._horn_labels[id(rule)]

    def _confidence_parameter(self, rule):
        if not rule.learnable:
            return None
        return self.learned_confidences._parameters[self.horn_label(rule).replace("#", "_")]

    def rule_confidence(self, rule):
        """A Horn rule's confidence: None (1), a float, or for a learnable rule a 0-dim
        tensor ``sigmoid(w)`` that carries the gradient to its parameter."""
        w = self._confidence_parameter(rule)
        if w is not None:
            return w.sigmoid()
        return rule.confidence

    def confidences(self):
        """``{"Head#k": confidence}`` of every Horn rule, learnable ones at their current
        value (a rule without a ``::`` prefix has 1)."""
        out = {}
        for stmt in self.program.statements:
            if isinstance(stmt, ast.HornRule):
                c = self.rule_confidence(stmt)
                out[self.horn_label(stmt)] = 1.0 if c is None else float(
                    c.item() if hasattr(c, "item") else c)
        return out

    def _set_fact(self, atom, degree):
        info = self.signature.predicates[atom.predicate]
        if any(t not in self._sizes for t in info.arg_types):  # an open domain: apply later
            self._pending.setdefault(atom.predicate, []).append((atom, degree))
            return
        index = tuple(self._env().const_index(c, t) for c, t in zip(atom.args, info.arg_types))
        self._store_facts(atom.predicate, np.asarray([index], dtype=np.int64),
                          np.asarray([degree], dtype=np.float64), atom.span)

    def _store_facts(self, name, rows, degrees, span):
        """Facts by argument indices: into the dense table when it exists or is small, else
        kept as rows (a relation over large domains) until a dense table is asked for."""
        import math

        info = self.signature.predicates[name]
        space = math.prod(self._domain_size(t, span) for t in info.arg_types)
        if name in self._tables or space <= SPARSE_FACTS_ABOVE:
            _max_into(self._numpy_table(name, span), rows, degrees)
        else:
            self._sparse_facts.setdefault(name, []).append((rows, degrees))

    def _numpy_table(self, name, span):
        """The writable numpy truth table of a table predicate (created on first use, with
        the facts kept as rows until then)."""
        import nesy

        if name not in self._tables:
            info = self.signature.predicates[name]
            shape = tuple(self._domain_size(t, span) for t in info.arg_types)
            table = np.zeros(shape, dtype=self.dtype_name)
            for rows, degrees in self._sparse_facts.pop(name, ()):
                _max_into(table, rows, degrees)
            self._tables[name] = nesy.tensor(table)
        table = self._tables[name]
        if table.requires_grad:
            raise self._error(span, f"{name}'s table was set from Python with requires_grad")
        return table.numpy()

    def _build_models(self):
        """Build each declared model whose input sizes are known."""
        for name, info in list(self.signature.predicates.items()) + list(
            self.signature.functions.items()
        ):
            if info.kind != "neural" or name in self.models._modules:
                continue
            sizes = self._input_sizes(info)
            if sizes is None:
                continue
            model, classes = build_model(info, sizes, self._output_size(info), self.dtype_name)
            self.models.add_module(name, model.to(self._device))
            self._classes[name] = classes

    def _input_sizes(self, info):
        types = info.arg_types
        if getattr(info.model, "option", None) and info.model.option("output") == "softmax":
            types = types[:-1]
        sizes = [self._feature_size(t) for t in types]
        return None if None in sizes else sizes

    def _output_size(self, info):
        if hasattr(info, "result"):  # a function
            return info.result if isinstance(info.result, int) else self._feature_size(info.result)
        if info.model.option("output") == "softmax":
            return self._sizes.get(info.arg_types[-1])
        return 1

    def _feature_size(self, domain):
        if domain in self.embeddings._parameters:
            return self.embeddings._parameters[domain].shape[1]
        if domain in self._features:
            return self._features[domain].shape[1]
        return None

    # --- setting data from Python --------------------------------------------------------

    def set_features(self, domain, features):
        """Fixed features of ``domain``'s individuals: one row each (sets an unknown size)."""
        import nesy

        self._invalidate()

        self._domain_info(domain)  # raises for an unknown domain
        if domain in self.embeddings._parameters:
            raise ValueError(f"{domain} has trainable embeddings; it takes no fixed features")
        if not isinstance(features, nesy.Tensor):
            features = nesy.tensor(np.asarray(features, dtype=self.dtype_name))
        if features.ndim == 1:
            features = features.reshape(-1, 1)
        if features.ndim != 2:
            raise ValueError(
                f"features of {domain} must be 2-D (individuals x features), "
                f"got shape {tuple(features.shape)}"
            )
        self._check_size(domain, features.shape[0], "feature rows")
        old = self._feature_size(domain)
        if old is not None and old != features.shape[1] and self._models_on(domain):
            raise ValueError(
                f"features of {domain} have {features.shape[1]} columns, but the models "
                f"{self._models_on(domain)} were built for {old}"
            )
        self._features[domain] = features
        self._build_models()

    def _models_on(self, domain):
        return [n for n in self.models._modules if domain in self._arg_types(n)]

    def _arg_types(self, name):
        info = self.signature.predicates.get(name) or self.signature.functions.get(name)
        return info.arg_types if info else ()

    def set_truths(self, predicate, table):
        """The whole truth table of a table predicate (a Tensor keeps its gradient)."""
        self._invalidate()
        import nesy

        info = self.signature.predicates.get(predicate)
        if info is None or info.learned:
            raise ValueError(f"{predicate!r} is not a table predicate of this knowledge base")
        if not isinstance(table, nesy.Tensor):
            table = nesy.tensor(np.asarray(table, dtype=self.dtype_name))
        if table.ndim != info.arity:
            raise ValueError(
                f"{predicate} has {info.arity} arguments; got a table of shape {tuple(table.shape)}"
            )
        for t, n in zip(info.arg_types, table.shape):
            self._check_size(t, n, f"{predicate}'s table axis")
        values = table.detach().numpy()
        if values.size and (np.isnan(values).any() or values.min() < 0 or values.max() > 1):
            raise ValueError(f"truths of {predicate} must lie in [0, 1]")
        self._tables[predicate] = table

    def add_fact(self, predicate, *args, degree=1.0):
        """Add ``Predicate(args...)`` with a degree, as a fact line in the file would."""
        self._invalidate()
        info = self.signature.predicates.get(predicate)
        if info is None:
            raise ValueError(f"undefined predicate {predicate!r}")
        if len(args) != info.arity:
            raise ValueError(f"{predicate} takes {info.arity} arguments, got {len(args)}")
        if not 0.0 <= degree <= 1.0:
            raise ValueError(f"degree {degree} is outside [0, 1]")
        consts = tuple(ast.Const(str(a), t) for a, t in zip(args, info.arg_types))
        atom = ast.Atom(predicate, consts)
        if not info.learned:
            self._set_fact(atom, float(degree))
            return
        negated = degree == 0.0
        name = f"facts({'not ' if negated else ''}{predicate})"
        if name not in self.rules:
            self.rules[name] = FactGroup(predicate, negated, ast.NOWHERE)
            self.weights[name] = 1.0
        self.rules[name].facts.append((consts, float(degree)))

    def add_facts(self, predicate, rows, degrees=None):
        """Many facts of a table predicate at once: ``rows`` is an ``(n, arity)`` array of
        argument indices (or a sequence of tuples of individual names), ``degrees`` one
        degree each (default 1). Over large domains they are kept as rows, so a relation of
        millions of atoms never needs its dense table (see ``infer(engine="sparse")``)."""
        info = self.signature.predicates.get(predicate)
        if info is None:
            raise ValueError(f"undefined predicate {predicate!r}")
        if info.learned:
            raise ValueError(f"{predicate} is learned: add its facts one by one with add_fact")
        rows = self._index_rows(predicate, info, rows)
        n = len(rows)
        degrees = np.ones(n) if degrees is None else np.asarray(degrees, dtype=np.float64)
        if degrees.shape != (n,):
            raise ValueError(f"add_facts({predicate!r}): {n} rows but degrees of shape "
                             f"{degrees.shape}")
        if n and (np.isnan(degrees).any() or degrees.min() < 0 or degrees.max() > 1):
            raise ValueError(f"add_facts({predicate!r}): degrees must lie in [0, 1]")
        if n:
            self._invalidate()
            self._store_facts(predicate, rows, degrees, ast.NOWHERE)
        return self

    def _index_rows(self, predicate, info, rows):
        """``rows`` as an ``(n, arity)`` int64 array of valid indices (names looked up)."""
        arity = info.arity
        array = np.asarray(rows)
        if array.dtype.kind in "iu":
            if array.ndim == 1 and arity == 1:
                array = array[:, None]
            array = array.astype(np.int64) if array.size else np.empty((0, arity), np.int64)
        else:
            out = np.empty((len(rows), arity), dtype=np.int64)
            for i, row in enumerate(rows):
                if len(row) != arity:
                    raise ValueError(f"{predicate} takes {arity} arguments, got {tuple(row)}")
                for j, (name, domain) in enumerate(zip(row, info.arg_types)):
                    index = self.signature.domains[domain].index_of(str(name))
                    if index is None:
                        raise ValueError(f"add_facts({predicate!r}): unknown individual "
                                         f"{name!r} of domain {domain}")
                    out[i, j] = index
            array = out
        if array.ndim != 2 or array.shape[1] != arity:
            raise ValueError(f"{predicate} takes {arity} arguments; rows have shape "
                             f"{array.shape}")
        for j, domain in enumerate(info.arg_types):
            size = self._domain_size(domain, ast.NOWHERE)
            if len(array) and (array[:, j].min() < 0 or array[:, j].max() >= size):
                raise ValueError(f"add_facts({predicate!r}): argument {j + 1} has indices "
                                 f"outside 0..{size - 1} (domain {domain})")
        return array

    def _fact_relation(self, name, span):
        """The atoms a predicate's facts, table or model give it, as a sparse ``Relation``
        (derived predicates: their facts only)."""
        import nesy

        from .relations import Relation

        info = self.signature.predicates[name]
        for atom, degree in self._pending.pop(name, ()):
            self._set_fact(atom, degree)
        sizes = tuple(self._domain_size(t, span) for t in info.arg_types)
        if info.kind in ("table", "derived") and name not in self._tables:
            chunks = self._sparse_facts.get(name, ())
            rel = Relation(sizes, capacity=sum(len(r) for r, _ in chunks), dtype=self.dtype_name)
            if chunks:  # one merge: a fact added at a time is a chunk of one row
                rows = np.concatenate([r for r, _ in chunks])
                rel.merge(rel.encode(list(rows.T)), np.concatenate([d for _, d in chunks]))
            return rel
        with nesy.no_grad():
            if info.kind in ("table", "derived"):
                table = self._fact_table(name, span)
            else:
                variables = tuple(ast.Var(f"_{i}", t) for i, t in enumerate(info.arg_types))
                table = Compiler(self._env(), self.semantics, self.max_groundings).evaluate(
                    ast.Atom(name, variables), variables)
            return Relation.from_dense(table.detach().numpy(), self.dtype_name)

    def set_function(self, function, values):
        """The output table of a given function: one row per grounding of its arguments."""
        self._invalidate()
        import nesy

        info = self.signature.functions.get(function)
        if info is None or info.kind != "table":
            raise ValueError(f"{function!r} is not a given (table) function")
        if not isinstance(values, nesy.Tensor):
            values = nesy.tensor(np.asarray(values, dtype=self.dtype_name))
        if values.ndim == len(info.arg_types):
            values = values.reshape(*values.shape, 1)
        for t, n in zip(info.arg_types, values.shape):
            self._check_size(t, n, f"{function}'s rows")
        self._function_tables[function] = values

    def bind(self, name, model, classes=None):
        """Make predicate or function ``name`` computed by ``model``: an ``nn.Module`` (its
        parameters join the knowledge base's) or any callable taking one tensor per argument
        (rows = groundings, columns = features) and returning one truth per row. With
        ``classes=True`` it takes all arguments but the last and returns a score per
        individual of the last argument's domain (a softmax classifier)."""
        info = self.signature.predicates.get(name) or self.signature.functions.get(name)
        if info is None:
            raise ValueError(f"no predicate or function named {name!r}")
        if not callable(model):
            raise TypeError(f"bind({name!r}, ...) needs a Module or a callable, got {model!r}")
        self._invalidate()
        if name in self.models._modules:
            del self.models._modules[name]
        self._callables.pop(name, None)
        if isinstance(model, Module):
            self.models.add_module(name, model)
        else:
            self._callables[name] = model
        self._classes[name] = (
            bool(classes) if classes is not None else self._classes.get(name, False)
        )
        if (
            hasattr(info, "kind")
            and info.kind in ("table", "derived")
            and name in self.signature.predicates
        ):
            info.kind = "extern"
        return self

    # --- lookups used while grounding -----------------------------------------------------

    def _domain_info(self, domain):
        info = self.signature.domains.get(domain)
        if info is None:
            raise ValueError(f"undefined domain {domain!r}")
        return info

    def _check_size(self, domain, n, what):
        info = self._domain_info(domain)
        known = self._sizes.get(domain)
        if known is not None and known != n:
            raise ValueError(f"{what}: {n} rows, but domain {domain} has {known} individuals")
        if known is None:
            self._sizes[domain] = int(n)
            info.size = info.size or int(n)

    def _domain_size(self, domain, span):
        if domain not in self._sizes:
            raise self._error(
                span,
                f"the size of domain {domain} is unknown: list its individuals, give a "
                f"size or features, or call kb.set_features({domain!r}, ...)",
            )
        return self._sizes[domain]

    def _features_of(self, domain, span):
        if domain in self.embeddings._parameters:
            return self.embeddings._parameters[domain]
        if domain not in self._features:
            raise self._error(
                span,
                f"domain {domain} has no features: declare 'features {domain} = ...' "
                f"or call kb.set_features({domain!r}, array)",
            )
        return self._placed(self._features[domain])

    def _invalidate(self):
        """Forget the inferred tables: the next read of a derived predicate infers again."""
        self._inferred = {}
        self._device_copies = {}

    # --- device placement: ``kb.to("cuda")`` -------------------------------------------
    _device = CPU

    def _apply_to_tensors(self, fn):
        """Module.to moves parameters; fixed data (features, truth tables, function values)
        stays on the host, where facts are written, and is copied on first use."""
        super()._apply_to_tensors(fn)
        import nesy

        self._device = fn(nesy.zeros((), device=self._device)).device
        self._device_copies = {}
        return self

    def _placed(self, t):
        """``t`` on this knowledge base's device (a copy cached until the data changes; a
        table carrying gradients is copied on each use, so each graph has its own copy)."""
        if not isinstance(t, Tensor) or t.device == self._device:
            return t
        if t.requires_grad:
            return t.to(self._device)
        copies = self.__dict__.setdefault("_device_copies", {})
        hit = copies.get(id(t))
        if hit is None or hit[0] is not t:
            hit = copies[id(t)] = (t, t.to(self._device))
        return hit[1]

    def _ensure_inferred(self, name):
        """Run ``infer()`` when derived predicate ``name`` is read and not yet inferred
        since the last change of facts, truths, features, bindings or (after an optimizer
        step) of the parameters the chaining reads."""
        info = self.signature.predicates.get(name)
        if info is None or info.kind != "derived" or self._inferring:
            return
        if name not in self._inferred:
            self.infer()
            return
        _, tensors = self._chaining_inputs()
        if tensors and _fingerprint(tensors) != self._inferred_from:
            self.infer()

    def _chaining_inputs(self):
        """``(depends, tensors)``: whether derived truths depend on parameters (a learnable
        confidence, or a model or a table set with gradients in some Horn rule's body),
        and the tensors among them whose values can be fingerprinted."""
        tensors = list(self.learned_confidences._parameters.values())
        depends = bool(tensors)
        for stmt in self.program.of_type(ast.HornRule):
            for lit in stmt.body:
                atom = lit.operand if isinstance(lit, ast.Not) else lit
                if not isinstance(atom, ast.Atom):
                    continue
                model = self.models._modules.get(atom.predicate)
                table = self._tables.get(atom.predicate)
                if model is not None:
                    tensors.extend(model.parameters())
                if table is not None and table.requires_grad:
                    tensors.append(table)
                depends = depends or self.signature.predicates[atom.predicate].kind in (
                    "neural", "extern") or (table is not None and table.requires_grad)
        return depends, tensors

    def _sparse_fact_relation(self, name, span):
        """The relation of a table predicate whose facts are kept as rows (large domains,
        no dense table yet), or None; built once until facts are added."""
        chunks = self._sparse_facts.get(name)
        if not chunks or name in self._tables:
            return None
        cache = self.__dict__.setdefault("_fact_relations", {})
        hit = cache.get(name)
        if hit is None or hit[0] is not chunks or hit[1] != len(chunks):
            hit = cache[name] = (chunks, len(chunks), self._fact_relation(name, span))
        return hit[2]

    def _inferred_relation(self, name):
        """The relation the sparse engine inferred for ``name`` (None: a dense table, or not
        a derived predicate)."""
        if self.signature.predicates[name].kind != "derived":
            return None
        self._ensure_inferred(name)
        table = self._inferred.get(name)
        return table if isinstance(table, Relation) else None

    def _truth_table(self, name, span):
        self._ensure_inferred(name)
        if name in self._inferred:
            table = self._inferred[name]
            if not isinstance(table, Relation):
                return table
            from .ground_program import dense_table

            if table.space > self.max_groundings:
                raise self._error(span, f"{name} was inferred by the sparse engine and has "
                                  f"{table.space:,} possible atoms, above the budget of "
                                  f"{self.max_groundings:,} for a dense table")
            return self._placed(dense_table(table, self.dtype_name))
        return self._fact_table(name, span)

    def _fact_table(self, name, span):
        """The table a predicate's facts (or ``set_truths``) give it."""
        for atom, degree in self._pending.pop(name, ()):
            for t in self.signature.predicates[name].arg_types:
                self._domain_size(t, atom.span)
            self._set_fact(atom, degree)
        if name not in self._tables:
            self._numpy_table(name, span)
        return self._placed(self._tables[name])

    def _function_table(self, name, span):
        if name not in self._function_tables:
            raise self._error(
                span,
                f"function {name} has no values: call kb.set_function"
                f"({name!r}, array) or give a table file",
            )
        return self._placed(self._function_tables[name])

    def _model(self, name, span):
        if name in self._callables:
            return self._callables[name], self._classes.get(name, False)
        if name in self.models._modules:
            return self.models._modules[name], self._classes.get(name, False)
        info = self.signature.predicates.get(name) or self.signature.functions.get(name)
        if info.kind == "extern":
            raise self._error(
                span,
                f"{name} is declared extern and nothing is bound to it: "
                f"call kb.bind({name!r}, module)",
            )
        missing = [t for t in info.arg_types if self._feature_size(t) is None]
        raise self._error(
            span,
            f"{name}'s model needs the features of {', '.join(missing)}: "
            f"call kb.set_features(...) first",
        )

    def _error(self, span, message):
        return error_at(span, message, self._sources.get(span.filename))

    def _env(self):
        return KBEnvironment(self)

    # --- truth ---------------------------------------------------------------------------

    def parameters(self, recurse=True):
        unbuilt = [
            n
            for n, i in self.signature.predicates.items()
            if i.kind == "neural" and n not in self.models._modules and n not in self._callables
        ]
        if unbuilt:
            raise ValueError(
                f"the models of {unbuilt} are not built yet: set the features "
                "of their domains (kb.set_features) before asking for parameters"
            )
        return super().parameters(recurse)

    def rule_truth(self, name):
        """Truth of the constraint rule ``name`` (a 0-dim Tensor)."""
        rule = self.rules[name]
        if isinstance(rule, FactGroup):
            from .facts import fact_group_truth

            return fact_group_truth(self, rule)
        fused = self._compiled_rule_truth(name)  # after kb.compile(); None: eager
        if fused is not None:
            return fused
        return Compiler(self._env(), self.semantics, self.max_groundings, name).evaluate(
            rule.formula
        )

    def truth(self, rule_or_formula):
        """Truth of a rule or query by name, or of a formula given as text (free variables
        give a table, one axis per variable in order of appearance)."""
        from .resolve import formula_in

        if rule_or_formula in self.rules:
            return self.rule_truth(rule_or_formula)
        if rule_or_formula in self.queries:
            formula = self.queries[rule_or_formula].formula
        else:
            formula = formula_in(self.program, rule_or_formula, signature=self.signature)
        free = _free_variables(formula)
        return Compiler(self._env(), self.semantics, self.max_groundings).evaluate(formula, free)

    def infer(self, max_iters=None, tol=1e-6, engine="auto"):
        """Run the Horn rules to their least fixpoint (forward chaining), stratum by stratum;
        afterwards ``atoms``, ``truth`` and the constraint rules read the derived predicates'
        tables. Call it again after changing facts, truths, features or parameters.

        ``engine``: ``"dense"`` (one table per predicate), ``"sparse"`` (semi-naive joins
        over the atoms with nonzero truth: memory grows with the atoms, not the domain
        sizes) or ``"auto"`` (dense while every rule's groundings stay below
        ``DENSE_ENGINE_MAX``, else sparse). Both carry gradients to fact degrees, bound
        models and learnable confidences. Under ``semantics certainty`` it computes
        MYCIN/EMYCIN certainty factors instead (``certainty.py``).
        Returns an ``InferenceReport`` (``engine``, ``iterations``, ``changes`` and
        ``converged``: every stratum's last change below ``tol`` within ``max_iters`` rounds;
        None: no limit)."""
        if engine not in ("auto", "dense", "sparse"):
            raise ValueError(f"engine must be 'auto', 'dense' or 'sparse', got {engine!r}")
        self._inferred = {}
        self._inferring = True
        try:
            report = self._run_inference(max_iters, tol, engine)
        finally:
            self._inferring = False
        self._inferred_from = _fingerprint(self._chaining_inputs()[1])
        return report

    def _run_inference(self, max_iters, tol, engine):
        from .chaining import choose_engine, infer
        from .sparse_chaining import infer_sparse

        if self.semantics.certainty:  # MYCIN/EMYCIN certainty factors, dense
            import nesy

            from .certainty import cf_fact_tables, infer_cf

            tables, report = infer_cf(self, max_iters, tol, self.semantics.threshold)
            self._inferred = {p: nesy.tensor(t.astype(self.dtype_name))
                              for p, t in tables.items()}
            for p, table in cf_fact_tables(self).items():  # "not P(a)." reads as -1
                self._inferred.setdefault(p, nesy.tensor(table.astype(self.dtype_name)))
            report.engine = "certainty"
            return report
        if engine == "auto":
            engine = choose_engine(self)
        run = infer if engine == "dense" else infer_sparse
        self._inferred, report = run(self, max_iters, tol)
        report.engine = engine
        return report

    def explain(self, atom, k=3, depth=None):
        """How ``atom`` (text such as ``"Path(a, c)"``) got its truth: its proof tree, the
        ``k`` best rule groundings at every level down to facts, ``depth`` rule levels at
        most (None: all). Prints as text; renders as a tree in notebooks. Runs ``infer()``
        first if it has not run."""
        from .explain import explain

        return explain(self, atom, k=k, depth=depth)

    def why(self, atom, k=None):
        """The conclusions ``atom`` directly supports (rule groundings using it or its
        negation), best first; at most ``k`` (None: all)."""
        from .explain import why

        return why(self, atom, k=k)

    def relation(self, predicate, min_truth=0.0):
        """The atoms of ``predicate`` with truth >= ``min_truth`` (> 0 by default) as arrays:
        ``(rows, truths)``, ``rows`` an ``(n, arity)`` array of argument indices. Cheap for
        millions of atoms, unlike ``atoms``."""
        rel = self._current_relation(predicate)
        if not isinstance(rel, Relation):
            rel = Relation.from_dense(rel.detach().numpy(), self.dtype_name)
        keep = rel.current_truth >= min_truth if min_truth > 0 else rel.current_truth > 0
        return rel.rows()[keep], rel.current_truth[keep].copy()

    def load_state_dict(self, state_dict, strict=True):
        out = super().load_state_dict(state_dict, strict)
        self._invalidate()
        return out

    def satisfaction(self):
        """The weighted aggregate of all constraint truths (LTN's ``SatAgg``). When the
        derived predicates depend on parameters, forward chaining runs again first, so
        that training sees (and differentiates through) the current fixpoint."""
        import nesy

        if not self.rules:
            raise ValueError("this knowledge base has no constraint rules to satisfy")
        names = list(self.rules)
        if self._chaining_inputs()[0]:
            self.infer()
            self._inferring = True  # just inferred: reads skip the staleness check
        try:
            truths = nesy.stack([self.rule_truth(n).reshape(()) for n in names])
        finally:
            self._inferring = False
        weights = np.asarray([self.weights[n] for n in names], dtype=self.dtype_name)
        return self.semantics.aggregate(truths, weights)

    def loss(self):
        """``1 - satisfaction()``, to minimise."""
        return 1.0 - self.satisfaction()

    def forward(self):
        return self.satisfaction()

    def atoms(self, predicate, min_truth=0.0):
        """``{(constant names...): truth}`` for every grounding with truth >= ``min_truth``."""
        import nesy

        info = self.signature.predicates.get(predicate)
        if info is None:
            raise ValueError(f"undefined predicate {predicate!r}")
        self._ensure_inferred(predicate)
        names = [self._individual_names(t) for t in info.arg_types]
        if isinstance(self._inferred.get(predicate), Relation) and min_truth > 0:
            rows, truths = self.relation(predicate, min_truth)
            return {tuple(names[i][j] for i, j in enumerate(row)): float(t)
                    for row, t in zip(rows.tolist(), truths)}
        variables = tuple(ast.Var(f"_{i}", t) for i, t in enumerate(info.arg_types))
        with nesy.no_grad():
            table = (
                Compiler(self._env(), self.semantics, self.max_groundings)
                .evaluate(ast.Atom(predicate, variables), variables)
                .detach()
                .numpy()
            )
        result = {}
        for index in map(tuple, np.argwhere(table >= min_truth)):  # works for 0-d tables
            result[tuple(names[i][j] for i, j in enumerate(index))] = float(table[index])
        return result

    def _current_relation(self, predicate):
        """What ``predicate``'s truths are now: its inferred relation or table (inferring
        first if needed), else the relation of its facts."""
        info = self.signature.predicates.get(predicate)
        if info is None:
            raise ValueError(f"undefined predicate {predicate!r}")
        self._ensure_inferred(predicate)
        rel = self._inferred.get(predicate)
        return self._fact_relation(predicate, info.span) if rel is None else rel

    def count(self, predicate, min_truth=0.0):
        """How many atoms of ``predicate`` have truth >= ``min_truth`` (> 0 by default),
        without listing them (cheap for millions of atoms)."""
        rel = self._current_relation(predicate)
        if not isinstance(rel, Relation):
            values = rel.detach().numpy()
        else:
            values = rel.current_truth
        return int(np.count_nonzero(values >= min_truth if min_truth > 0 else values > 0))

    def facts(self, predicate):
        """``{(constant names...): degree}`` of the facts given for ``predicate`` (in the
        file, by ``add_fact``/``add_facts``, or as its table); for a learned predicate its
        supervision, negated facts with degree 0."""
        info = self.signature.predicates.get(predicate)
        if info is None:
            raise ValueError(f"undefined predicate {predicate!r}")
        names = [self._individual_names(t) for t in info.arg_types]
        out = {}
        if info.learned:
            for negated in (False, True):
                group = self.rules.get(f"facts({'not ' if negated else ''}{predicate})")
                for args, degree in getattr(group, "facts", ()):
                    out[tuple(a.name for a in args)] = degree
            return out
        if info.kind not in ("table", "derived"):  # an extern predicate: no facts
            return out
        rel = self._fact_relation(predicate, info.span)
        for row, degree in zip(rel.rows().tolist(), rel.current_truth.tolist()):
            out[tuple(names[i][j] for i, j in enumerate(row))] = degree
        return out

    def individuals(self, domain):
        """The names of a domain's individuals, in index order."""
        self._domain_size(self._domain_info(domain).name, ast.NOWHERE)
        return self._individual_names(domain)

    def _individual_names(self, domain):
        info = self.signature.domains[domain]
        if info.individuals is not None:
            return list(info.individuals)
        return [str(i) for i in range(self._sizes[domain])]

    # --- display ---------------------------------------------------------------------------

    def rule_truths(self):
        """``{rule name: truth or None}`` without gradients (None where it cannot run yet)."""
        return {name: truth for name, (truth, _) in self.rule_status().items()}

    def rule_status(self):
        """``{rule name: (truth, None) or (None, why it cannot be evaluated)}``, no gradients."""
        import nesy

        out = {}
        with nesy.no_grad():
            for name in self.rules:
                try:
                    out[name] = (float(self.rule_truth(name).item()), None)
                except (ValueError, TypeError) as exc:  # RuleError is a ValueError
                    message = getattr(exc, "message", None) or str(exc)
                    out[name] = (None, message.splitlines()[0])
        return out

    def __repr__(self):
        return kb_text(self)

    def _repr_html_(self):
        return kb_html(self)


def _free_variables(formula):
    """The variables no quantifier binds, in order of first appearance."""
    seen = {}

    def visit(node, bound):
        if isinstance(node, ast.Quantified):
            bound = bound | {v.name for v in node.variables}
        elif isinstance(node, ast.Var) and node.name not in bound:
            seen.setdefault(node.name, node)
        for child in ast.children(node):
            visit(child, bound)

    visit(formula, frozenset())
    return tuple(seen.values())
