"""Forward chaining against trusted references, on random programs: stratified Datalog solved
by clingo (crisp facts give the least model under every semantics), and fuzzy fixpoints
against a naive grounding written here (Goedel with recursion; product and Lukasiewicz on
non-recursive programs, where the fixpoint is a finite expression). Every test runs on each
engine of ``kb.infer``."""

import functools
import itertools
import math
import random
from dataclasses import dataclass, replace

import pytest

from nesy.logic import loads

ENGINES = ("dense", "sparse")
PRESETS = ("godel", "product", "lukasiewicz")
VARS = ("x", "y", "z", "w")


def infer(kb, engine):
    """``kb.infer(engine=engine)``; before ``infer`` takes ``engine``, dense is the default
    and any other engine skips."""
    try:
        return kb.infer(engine=engine)
    except TypeError as exc:
        if "unexpected keyword argument 'engine'" not in str(exc):
            raise
    if engine != "dense":
        pytest.skip(f"kb.infer has no engine={engine!r} yet")
    return kb.infer()


def inferred(text, engine, **options):
    """``loads(text)`` after ``infer``, and the report; an error shows the program."""
    try:
        kb = loads(text, **options)
        report = infer(kb, engine)
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}\nprogram:\n{text}") from exc
    assert report.converged, text
    return kb


# --- random stratified programs ---------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    predicate: str  # "!=" for a comparison
    args: tuple  # names in VARS are variables, the others constants
    negated: bool = False


@dataclass(frozen=True)
class Rule:
    head: Literal
    body: tuple
    confidence: float = 1.0

    def variables(self):
        """The variables of the positive body atoms (safety: every other one is among them)."""
        return sorted({a for lit in self.positives() for a in lit.args if a in VARS})

    def positives(self):
        return [lit for lit in self.body if not lit.negated and lit.predicate != "!="]


@dataclass
class Program:
    constants: list  # the domain: every constant of the facts and rules
    arity: dict
    edb: list
    idb: list  # in an order where non-recursive programs only use earlier ones
    level: dict  # the stratum of each IDB predicate, by construction
    facts: dict  # (predicate, args) -> degree
    rules: list
    declare: bool  # rule constants declared with `constant` (else quoted)


def generate(seed, fuzzy=False, recursive=True, n_constants=(5, 8), n_vars=4):
    """A random safe program, stratified by construction: a positive body atom names an EDB
    predicate or an IDB predicate of the same or a lower level (with ``recursive=False``: an
    earlier one), a negated atom an EDB predicate or an IDB predicate of a lower level."""
    rng = random.Random(seed)
    constants = [f"c{i}" for i in range(rng.randint(*n_constants))]
    edb = [f"E{i}" for i in range(rng.randint(2, 4))]
    idb = [f"P{i}" for i in range(rng.randint(3, 6))]
    arity = {p: rng.randint(1, 2) for p in edb}
    arity.update({p: rng.choices([0, 1, 2], [1, 4, 5])[0] for p in idb})
    level = dict(zip(idb, sorted([0, 1, 2, *rng.choices(range(3), k=len(idb) - 3)])))
    facts = {}
    for p in edb:
        rows = list(itertools.product(constants, repeat=arity[p]))
        density = rng.uniform(0.1, 0.4)
        for row in [r for r in rows if rng.random() < density] or [rng.choice(rows)]:
            facts[(p, row)] = _degree(rng, fuzzy)
    for p in rng.sample(idb, 2):  # facts about derived predicates count too
        facts[(p, tuple(rng.choices(constants, k=arity[p])))] = _degree(rng, fuzzy)
    in_rules = constants + [f"c{len(constants)}"] * (rng.random() < 0.5)  # one in no fact
    rules = []
    for i, p in enumerate(idb):
        earlier = idb if recursive else idb[:i]
        positives = edb + [q for q in earlier if level[q] <= level[p]]
        negatives = edb + [q for q in idb for _ in range(3) if level[q] == level[p] - 1]
        negatives += [q for q in idb if level[q] < level[p] - 1]
        for _ in range(rng.randint(1, 3)):
            rules.append(_rule(rng, p, arity, positives, negatives, in_rules, n_vars, fuzzy))
    used = {a for r in rules for lit in (r.head, *r.body) for a in lit.args if a not in VARS}
    constants = sorted(used | {a for _, args in facts for a in args})  # nesy's domain
    return Program(constants, arity, edb, idb, level, facts, rules, rng.random() < 0.3)


def _degree(rng, fuzzy):
    return float(f"{rng.uniform(0.05, 1.0):.3f}") if fuzzy else 1.0


def _rule(rng, head, arity, positives, negatives, constants, n_vars, fuzzy):
    names = VARS[: rng.randint(1, n_vars)]  # few variables: repeated ones are common

    def term(pool):
        return rng.choice(constants) if not pool or rng.random() < 0.12 else rng.choice(pool)

    def atom(pool, variables, negated=False):
        q = rng.choice(pool)
        return Literal(q, tuple(term(variables) for _ in range(arity[q])), negated)

    n_body = rng.randint(1, 3)
    n_neg = int(n_body > 1 and rng.random() < 0.6)
    idb = [q for q in positives if q.startswith("P")]
    body = [
        atom(idb if idb and rng.random() < 0.5 else positives, names) for _ in range(n_body - n_neg)
    ]
    bound = sorted({a for lit in body for a in lit.args if a in VARS})
    lower = [q for q in negatives if q.startswith("P")]
    body += [
        atom(lower if lower and rng.random() < 0.6 else negatives, bound, negated=True)
        for _ in range(n_neg)
    ]
    if bound and rng.random() < 0.15:
        left = rng.choice(bound)
        body.append(Literal("!=", (left, term([v for v in bound if v != left]))))
    rng.shuffle(body)
    confidence = float(f"{rng.uniform(0.3, 1.0):.3f}") if fuzzy and rng.random() < 0.6 else 1.0
    return Rule(
        Literal(head, tuple(term(bound) for _ in range(arity[head]))), tuple(body), confidence
    )


# --- rendering --------------------------------------------------------------------------------
def nesy_text(prog, semantics):
    in_rules = sorted({a for r in prog.rules for lit in (r.head, *r.body) for a in lit.args})
    in_rules = [a for a in in_rules if a not in VARS]
    lines = [f"semantics {semantics}."]
    if prog.declare and in_rules:
        lines.append(f"constant {', '.join(in_rules)}.")
    for (p, args), degree in prog.facts.items():
        prefix = "" if degree == 1.0 else f"{degree} :: "
        lines.append(f"{prefix}{p}({', '.join(args)}).")
    const = (lambda a: a) if prog.declare else (lambda a: f'"{a}"')
    for rule in prog.rules:
        body = ", ".join(_nesy_literal(lit, const) for lit in rule.body)
        prefix = "" if rule.confidence == 1.0 else f"{rule.confidence} :: "
        lines.append(f"{prefix}{_nesy_literal(rule.head, const)} :- {body}.")
    return "\n".join(lines)


def _nesy_literal(lit, const):
    args = [a if a in VARS else const(a) for a in lit.args]
    if lit.predicate == "!=":
        return f"{args[0]} != {args[1]}"
    return f"{'not ' if lit.negated else ''}{lit.predicate}({', '.join(args)})"


def clingo_text(prog):
    """The same program in ASP: lowercase predicates and constants, uppercase variables."""
    lines = [_clingo_literal(Literal(p, args)) + "." for p, args in prog.facts]
    for rule in prog.rules:
        body = ", ".join(_clingo_literal(lit) for lit in rule.body)
        lines.append(f"{_clingo_literal(rule.head)} :- {body}.")
    return "\n".join(lines)


def _clingo_literal(lit):
    args = [a.upper() if a in VARS else a for a in lit.args]
    if lit.predicate == "!=":
        return f"{args[0]} != {args[1]}"
    atom = lit.predicate.lower() + (f"({', '.join(args)})" if args else "")
    return f"not {atom}" if lit.negated else atom


@functools.lru_cache(maxsize=None)
def clingo_model(text):
    """The unique answer set of a stratified program: {(predicate, (constants...))}."""
    clingo = pytest.importorskip("clingo")
    ctl = clingo.Control(["0"], logger=lambda code, message: None)
    ctl.add("base", [], text)
    ctl.ground([("base", [])])
    models = []
    ctl.solve(on_model=lambda m: models.append(m.symbols(atoms=True)))
    assert len(models) == 1, text
    return {(s.name, tuple(a.name for a in s.arguments)) for s in models[0]}


def derived_truths(kb, predicate, arity):
    """``{(constants...): truth}`` over every grounding; a proposition through ``kb.truth``,
    as ``kb.atoms`` fails on it (see ``test_atoms_of_a_proposition``)."""
    if arity == 0:
        return {(): float(kb.truth(f"{predicate}()").item())}
    return kb.atoms(predicate, min_truth=0.0)


# --- the generator makes what the tests need --------------------------------------------------
def dependency_cycles(prog):
    """IDB predicates on a cycle of the dependency graph, and those on a cycle of two or more."""
    edges = {
        p: {lit.predicate for r in prog.rules if r.head.predicate == p for lit in r.body}
        for p in prog.idb
    }
    reach = {p: set(edges[p]) for p in prog.idb}
    for _ in prog.idb:  # transitive closure, naively
        for p in prog.idb:
            reach[p] |= {b for q in reach[p] if q in reach for b in reach[q]}
    cyclic = {p for p in prog.idb if p in reach[p]}
    mutual = {p for p in cyclic if any(q != p and p in reach[q] for q in reach[p] if q in reach)}
    return cyclic, mutual


def strata(prog):
    """The number of strata the rules need: 1 + the most negations on a dependency path."""
    need = dict.fromkeys(prog.idb, 0)
    for _ in prog.idb:
        for r in prog.rules:
            for lit in r.body:
                below = need.get(lit.predicate, -1) + lit.negated
                need[r.head.predicate] = max(need[r.head.predicate], below)
    return 1 + max(need.values())


def features(prog):
    cyclic, mutual = dependency_cycles(prog)
    literals = [lit for r in prog.rules for lit in r.body]
    return {
        "recursion": bool(cyclic),
        "mutual recursion": bool(mutual),
        "negated IDB": any(lit.negated and lit.predicate in prog.level for lit in literals),
        "negation": any(lit.negated for lit in literals),
        "three strata": strata(prog) >= 3,
        "constant in a rule": any(
            a not in VARS for r in prog.rules for lit in (r.head, *r.body) for a in lit.args
        ),
        "repeated variable": any(
            len(set(lit.args)) < len(lit.args) and lit.args[0] in VARS
            for r in prog.rules
            for lit in (r.head, *r.body)
        ),
        "comparison": any(lit.predicate == "!=" for lit in literals),
        "proposition": 0 in (prog.arity[p] for p in prog.idb),
    }


SEEDS = range(40)


def test_random_programs_have_every_feature():
    counts = dict.fromkeys(features(generate(0)), 0)
    nonempty = negation_decides = 0
    for seed in SEEDS:
        prog = generate(seed)
        for name, present in features(prog).items():
            counts[name] += present
        model = clingo_model(clingo_text(prog))
        nonempty += any(p.upper() in prog.level for p, _ in model)
        positive = [replace(r, body=tuple(x for x in r.body if not x.negated)) for r in prog.rules]
        negation_decides += model != clingo_model(clingo_text(replace(prog, rules=positive)))
    assert all(n >= 8 for n in counts.values()), str(counts)
    assert nonempty >= 35, nonempty
    assert negation_decides >= 8, negation_decides


# --- crisp: clingo --------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("semantics", PRESETS)
@pytest.mark.parametrize("seed", SEEDS)
def test_crisp_programs_match_clingo(seed, semantics, engine):
    prog = generate(seed)
    text = nesy_text(prog, semantics)
    model = clingo_model(clingo_text(prog))
    kb = inferred(text, engine)
    assert kb.semantics.or_op == {"godel": "max", "product": "probsum"}.get(semantics, "luk")
    for p in prog.idb:
        expected = {args for q, args in model if q == p.lower()}
        truths = derived_truths(kb, p, prog.arity[p])
        got = {args for args, t in truths.items() if t >= 0.5}
        assert got == expected, f"{p} under {semantics}, program:\n{text}"
        assert all(t in (0.0, 1.0) for t in truths.values()), f"{p}: {truths}\n{text}"


# --- fuzzy: a naive grounding -----------------------------------------------------------------
T_NORM = {
    "godel": lambda xs: min(xs),
    "product": math.prod,
    "lukasiewicz": lambda xs: max(0.0, sum(xs) - (len(xs) - 1)),
}
T_CONORM = {
    "godel": lambda xs: max(xs),
    "product": lambda xs: 1.0 - math.prod(1.0 - x for x in xs),
    "lukasiewicz": lambda xs: min(1.0, sum(xs)),
}


def groundings(rule, prog, truth, t_norm):
    """(head atom, and(confidence, body literals)) for every grounding of the rule's variables
    over the whole domain; ``not A`` is ``1 - A``, a comparison a crisp mask."""
    names = rule.variables()
    for values in itertools.product(prog.constants, repeat=len(names)):
        bind = dict(zip(names, values))
        body = [rule.confidence]
        for lit in rule.body:
            atom = _ground(lit, bind)
            if lit.predicate == "!=":
                body.append(float(atom[1][0] != atom[1][1]))
            else:
                value = truth.get(atom, 0.0)
                body.append(1.0 - value if lit.negated else value)
        yield _ground(rule.head, bind), t_norm(body)


def _ground(lit, bind):
    return lit.predicate, tuple(bind.get(a, a) for a in lit.args)


def godel_fixpoint(prog):
    """Level by level, ``truth[head] = max(truth[head], min(conf, body...))`` until nothing
    changes; negated atoms are of lower levels, whose truths are final."""
    truth = dict(prog.facts)
    for level in sorted(set(prog.level.values())):
        rules = [r for r in prog.rules if prog.level[r.head.predicate] == level]
        changed = True
        while changed:
            changed = False
            for rule in rules:
                for head, value in groundings(rule, prog, truth, T_NORM["godel"]):
                    if value > truth.get(head, 0.0):
                        truth[head], changed = value, True
    return truth


def direct_truths(prog, semantics):
    """A non-recursive program's truths: each IDB predicate, in order, the ``or`` of its fact
    and of every grounding of every rule, over final truths of earlier predicates."""
    truth = dict(prog.facts)
    for p in prog.idb:
        terms = {}
        for (q, args), degree in prog.facts.items():
            if q == p:
                terms.setdefault((q, args), []).append(degree)
        for rule in (r for r in prog.rules if r.head.predicate == p):
            for head, value in groundings(rule, prog, truth, T_NORM[semantics]):
                terms.setdefault(head, []).append(value)
        truth.update({atom: T_CONORM[semantics](xs) for atom, xs in terms.items()})
    return truth


def assert_truths(kb, prog, expected, tol, text):
    for p in prog.idb:
        got = derived_truths(kb, p, prog.arity[p])
        rows = set(itertools.product(prog.constants, repeat=prog.arity[p]))
        assert set(got) == rows, f"{p}: the domain differs\n{text}"
        for args, t in got.items():
            want = expected.get((p, args), 0.0)
            assert abs(t - want) <= tol, f"{p}{args}: {t} != {want}, program:\n{text}"


FUZZY_SEEDS = range(30)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", FUZZY_SEEDS)
def test_godel_fixpoint_matches_naive_grounding(seed, engine):
    prog = generate(1000 + seed, fuzzy=True, n_constants=(4, 6), n_vars=3)
    text = nesy_text(prog, "godel")
    kb = inferred(text, engine, dtype="float64")
    assert_truths(kb, prog, godel_fixpoint(prog), 1e-12, text)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("semantics", PRESETS)
@pytest.mark.parametrize("seed", FUZZY_SEEDS)
def test_non_recursive_fixpoint_matches_naive_grounding(seed, semantics, engine):
    prog = generate(2000 + seed, fuzzy=True, recursive=False, n_constants=(4, 6), n_vars=3)
    assert not dependency_cycles(prog)[0]
    text = nesy_text(prog, semantics)
    kb = inferred(text, engine, dtype="float64")
    assert_truths(kb, prog, direct_truths(prog, semantics), 1e-9, text)


def test_the_fuzzy_programs_are_not_trivial():
    progs = [generate(1000 + s, fuzzy=True, n_constants=(4, 6), n_vars=3) for s in FUZZY_SEEDS]
    assert sum(features(p)["mutual recursion"] for p in progs) >= 10
    assert sum(features(p)["negated IDB"] for p in progs) >= 15
    graded = [t for p in progs for t in godel_fixpoint(p).values() if 0.0 < t < 1.0]
    assert len(graded) >= 100
    assert sum(r.confidence < 1.0 for p in progs for r in p.rules) >= 50


@pytest.mark.parametrize("engine", ENGINES)
def test_propositions(engine):
    kb = loads(
        "E(a). E(b). Raining(). 0.5 :: Wet().\n"
        "Wet() :- E(x), Raining(). Dry() :- E(x), not Wet(). Cold() :- Dry().",
        semantics="godel",
    )
    assert infer(kb, engine).converged
    truths = {p: float(kb.truth(f"{p}()").item()) for p in ("Wet", "Dry", "Cold")}
    assert truths == {"Wet": 1.0, "Dry": 0.0, "Cold": 0.0}


# --- propositions ------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_atoms_of_a_proposition(engine):
    kb = loads("E(a). Raining(). Wet() :- E(x), Raining().")
    kb.infer(engine=engine)
    assert kb.atoms("Raining") == {(): 1.0}
    assert kb.atoms("Wet", min_truth=0.5) == {(): 1.0}
