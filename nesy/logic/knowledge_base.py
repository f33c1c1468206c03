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

from . import ast
from .compiler import DEFAULT_MAX_GROUNDINGS, Compiler
from .data import load_facts, load_table
from .errors import error_at
from .kb_env import KBEnvironment
from .models import build_model
from .report import kb_html, kb_text


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


class KnowledgeBase(Module):
    """A trainable knowledge base; build one with ``nesy.logic.load`` or ``loads``."""

    def __init__(
        self,
        program,
        semantics=None,
        base_dir=None,
        max_groundings=DEFAULT_MAX_GROUNDINGS,
        dtype="float32",
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
        self._pending = {}  # facts over domains whose size is set later from Python
        self._callables = {}
        self._classes = {}
        self.embeddings = Module()
        self.models = Module()
        self.rules = {}
        self.weights = {}
        self.queries = {}
        self._init_domains()
        self._init_statements()
        self._init_table_files()
        self._build_models()

    # --- construction ------------------------------------------------------------------

    def _data_path(self, relative, span):
        """A data file named in a rule file, relative to that file's folder."""
        if os.path.isfile(span.filename):
            return os.path.join(os.path.dirname(os.path.abspath(span.filename)), relative)
        return os.path.join(self.base_dir, relative)

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

    def _set_fact(self, atom, degree):
        info = self.signature.predicates[atom.predicate]
        if any(t not in self._sizes for t in info.arg_types):  # an open domain: apply later
            self._pending.setdefault(atom.predicate, []).append((atom, degree))
            return
        table = self._numpy_table(atom.predicate, atom.span)
        index = tuple(self._env().const_index(c, t) for c, t in zip(atom.args, info.arg_types))
        table[index] = max(table[index], degree)

    def _numpy_table(self, name, span):
        """The writable numpy truth table of a table predicate (created on first use)."""
        import nesy

        if name not in self._tables:
            info = self.signature.predicates[name]
            shape = tuple(self._domain_size(t, span) for t in info.arg_types)
            self._tables[name] = nesy.tensor(np.zeros(shape, dtype=self.dtype_name))
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
            self.models.add_module(name, model)
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

    def set_function(self, function, values):
        """The output table of a given function: one row per grounding of its arguments."""
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
        return self._features[domain]

    def _truth_table(self, name, span):
        if name in self._inferred:
            return self._inferred[name]
        return self._fact_table(name, span)

    def _fact_table(self, name, span):
        """The table a predicate's facts (or ``set_truths``) give it."""
        for atom, degree in self._pending.pop(name, ()):
            for t in self.signature.predicates[name].arg_types:
                self._domain_size(t, atom.span)
            self._set_fact(atom, degree)
        if name not in self._tables:
            self._numpy_table(name, span)
        return self._tables[name]

    def _function_table(self, name, span):
        if name not in self._function_tables:
            raise self._error(
                span,
                f"function {name} has no values: call kb.set_function"
                f"({name!r}, array) or give a table file",
            )
        return self._function_tables[name]

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

    def infer(self, max_iters=100, tol=1e-6):
        """Run the Horn rules to their least fixpoint (forward chaining), stratum by stratum;
        afterwards ``atoms``, ``truth`` and the constraint rules read the derived predicates'
        tables, which keep their gradients. Call it again after changing facts, truths,
        features or parameters. Returns an ``InferenceReport`` (``iterations``, ``changes``
        and ``converged``: every stratum's last change below ``tol`` within ``max_iters``)."""
        from .chaining import infer

        self._inferred = {}
        self._inferred, report = infer(self, max_iters, tol)
        return report

    def satisfaction(self):
        """The weighted aggregate of all constraint truths (LTN's ``SatAgg``)."""
        import nesy

        if not self.rules:
            raise ValueError("this knowledge base has no constraint rules to satisfy")
        names = list(self.rules)
        truths = nesy.stack([self.rule_truth(n).reshape(()) for n in names])
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
        if info.kind == "derived" and predicate not in self._inferred:
            raise ValueError(
                f"{predicate} is defined by Horn rules; its truths come from forward chaining: "
                "call kb.infer() first"
            )
        variables = tuple(ast.Var(f"_{i}", t) for i, t in enumerate(info.arg_types))
        with nesy.no_grad():
            table = (
                Compiler(self._env(), self.semantics, self.max_groundings)
                .evaluate(ast.Atom(predicate, variables), variables)
                .numpy()
            )
        names = [self._individual_names(t) for t in info.arg_types]
        result = {}
        for index in zip(*np.nonzero(table >= min_truth)):
            result[tuple(names[i][j] for i, j in enumerate(index))] = float(table[index])
        return result

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
