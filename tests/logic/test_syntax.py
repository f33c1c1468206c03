"""The core syntax of the rule language: the AST that each construct parses to."""

import random
import re

import pytest

from nesy.logic import RuleError, ast, parse, parse_path
from nesy.logic.parser import parse_text
from nesy.logic.semantics import PRESETS


def formula(text):
    return parse_text(text, "<test>", start="formula")


def atom(predicate, *args):
    return ast.Atom(predicate, tuple(ast.Ident(a) for a in args))


def quantified(kind, names, body):
    binders = tuple(ast.Binder((ast.Var(n),)) for n in names.split())
    return ast.Quantified(kind, binders, None, body)


def Forall(names, body):
    return quantified("forall", names, body)


def Exists(names, body):
    return quantified("exists", names, body)


def Not(x):
    return ast.Not(x)


def And(x, y):
    return ast.Binary("and", x, y)


def Or(x, y):
    return ast.Binary("or", x, y)


def Implies(x, y):
    return ast.Binary("->", x, y)


def Iff(x, y):
    return ast.Binary("<->", x, y)


P, Q, R, S = (atom(name, "x") for name in "PQRS")


def statement(text):
    """The one statement of ``text`` other than declarations, checked."""
    kinds = (ast.Fact, ast.HornRule, ast.Constraint, ast.Query)
    found = [s for s in parse(text).statements if isinstance(s, kinds)]
    assert len(found) == 1
    return found[0]


# --- formulas ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Edge(a, b)", atom("Edge", "a", "b")),
        ("Rain()", ast.Atom("Rain", ())),
        (
            'P("ann b", 3, 2.5)',
            ast.Atom(
                "P",
                (
                    ast.Const("ann b"),
                    ast.Const("3", value=3.0),
                    ast.Const("2.5", value=2.5),
                ),
            ),
        ),
        ("not P(x)", Not(P)),
        ("P(x) and Q(x)", And(P, Q)),
        ("P(x) or Q(x)", Or(P, Q)),
        ("P(x) -> Q(x)", Implies(P, Q)),
        ("P(x) <-> Q(x)", Iff(P, Q)),
        ("(P(x))", P),
        ("((P(x) and Q(x)))", And(P, Q)),
    ],
)
def test_atoms_and_connectives(text, expected):
    assert formula(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("not P(x) and Q(x)", And(Not(P), Q)),
        ("not not P(x)", Not(Not(P))),
        ("not (P(x) or Q(x))", Not(Or(P, Q))),
        ("P(x) and Q(x) or R(x)", Or(And(P, Q), R)),
        ("P(x) or Q(x) and R(x)", Or(P, And(Q, R))),
        ("P(x) and Q(x) and R(x)", And(And(P, Q), R)),
        ("P(x) or Q(x) or R(x)", Or(Or(P, Q), R)),
        ("P(x) or Q(x) -> R(x)", Implies(Or(P, Q), R)),
        ("P(x) -> Q(x) or R(x)", Implies(P, Or(Q, R))),
        ("P(x) -> Q(x) -> R(x)", Implies(P, Implies(Q, R))),
        ("(P(x) -> Q(x)) -> R(x)", Implies(Implies(P, Q), R)),
        ("P(x) <-> Q(x) -> R(x)", Iff(P, Implies(Q, R))),
        ("P(x) -> Q(x) <-> R(x)", Iff(Implies(P, Q), R)),
        ("P(x) <-> Q(x) <-> R(x)", Iff(Iff(P, Q), R)),
        ("P(x) and (Q(x) or R(x))", And(P, Or(Q, R))),
        ("not P(x) or Q(x) and R(x) -> S(x) <-> P(x)", Iff(Implies(Or(Not(P), And(Q, R)), S), P)),
    ],
)
def test_precedence_and_associativity(text, expected):
    assert formula(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("forall x: P(x)", Forall("x", P)),
        ("exists x: P(x)", Exists("x", P)),
        ("forall x, y: P(x)", Forall("x y", P)),
        ("forall x: exists y: P(x)", Forall("x", Exists("y", P))),
        # the body extends as far right as possible
        ("forall x: P(x) and Q(x)", Forall("x", And(P, Q))),
        ("forall x: P(x) -> Q(x) <-> R(x)", Forall("x", Iff(Implies(P, Q), R))),
        ("P(x) and forall y: Q(x) or R(x)", And(P, Forall("y", Or(Q, R)))),
        ("P(x) -> exists y: Q(x) -> R(x)", Implies(P, Exists("y", Implies(Q, R)))),
        ("not forall x: P(x) and Q(x)", Not(Forall("x", And(P, Q)))),
        ("(forall x: P(x)) and Q(x)", And(Forall("x", P), Q)),
        (
            "(exists x: P(x)) -> forall x: Q(x)",
            Implies(Exists("x", P), Forall("x", Q)),
        ),
    ],
)
def test_quantifiers(text, expected):
    assert formula(text) == expected


@pytest.mark.parametrize(
    "unicode, ascii",
    [
        ("¬P(x)", "not P(x)"),
        ("P(x) ∧ Q(x)", "P(x) and Q(x)"),
        ("P(x) ∨ Q(x)", "P(x) or Q(x)"),
        ("P(x) → Q(x)", "P(x) -> Q(x)"),
        ("P(x) ↔ Q(x)", "P(x) <-> Q(x)"),
        ("∀x, y: P(x)", "forall x, y: P(x)"),
        ("∃x: P(x)", "exists x: P(x)"),
        (
            "∀x: ¬P(x) ∧ Q(x) ∨ R(x) → S(x) ↔ ∃y: P(y)",
            "forall x: not P(x) and Q(x) or R(x) -> S(x) <-> exists y: P(y)",
        ),
    ],
)
def test_unicode_synonyms_give_identical_trees(unicode, ascii):
    assert formula(unicode) == formula(ascii)


def test_keywords_inside_names_are_names():
    assert formula("notA(x) and orange(x) or forallx(x)") == Or(
        And(atom("notA", "x"), atom("orange", "x")), atom("forallx", "x")
    )


def test_comments_are_ignored():
    assert formula("P(x) # P first\n  and Q(x)  # then Q") == And(P, Q)
    program = parse("# a header\nEdge(a, b).  # an edge\n# the end\n")
    assert [str(s) for s in program.statements] == ["Edge(a, b)."]


def test_comparisons_and_arithmetic():
    x, y = ast.Ident("x"), ast.Ident("y")
    two = ast.Const("2", value=2.0)
    assert formula("x + y * 2 != f(x)") == ast.Compare(
        "!=", ast.Arith("+", x, ast.Arith("*", y, two)), ast.Apply("f", (x,))
    )
    assert formula("not x = y") == Not(ast.Compare("=", x, y))


# --- facts and Horn rules --------------------------------------------------------------------


def thing(*names):
    return tuple(ast.Const(n, "Thing") for n in names)


def test_fact():
    assert statement("Edge(a, b).") == ast.Fact(ast.Atom("Edge", thing("a", "b")), 1.0)


@pytest.mark.parametrize(
    "text, degree",
    [
        ("0.7 :: Edge(a, b).", 0.7),
        ("1 :: Edge(a, b).", 1.0),
        ("not Edge(a, b).", 0.0),
        ("0 :: Edge(a, b).", 0.0),
    ],
)
def test_fact_degree(text, degree):
    assert statement(text) == ast.Fact(ast.Atom("Edge", thing("a", "b")), degree)


def test_horn_rule():
    rule = parse("Edge(a, b). Path(x, z) :- Edge(x, y), Path(y, z).").statements[1]
    x, y, z = (ast.Var(n, "Thing") for n in "xyz")
    assert rule == ast.HornRule(
        ast.Atom("Path", (x, z)), (ast.Atom("Edge", (x, y)), ast.Atom("Path", (y, z)))
    )
    assert rule.confidence is None


def test_horn_rule_with_negation_and_confidence():
    rule = parse("Node(a). Blocked(b). 0.9 :: Free(x) :- Node(x), not Blocked(x).").statements[2]
    x = ast.Var("x", "Thing")
    assert rule == ast.HornRule(
        ast.Atom("Free", (x,)),
        (ast.Atom("Node", (x,)), ast.Not(ast.Atom("Blocked", (x,)))),
        confidence=0.9,
    )


def test_bare_names_in_a_horn_rule_are_variables_unless_declared():
    text = """domain Person = {ann, bob}.
              predicate Knows(Person, Person).
              Knows(x, ann) :- Knows(ann, x)."""
    rule = statement(text)
    x, ann = ast.Var("x", "Person"), ast.Const("ann", "Person")
    assert rule == ast.HornRule(ast.Atom("Knows", (x, ann)), (ast.Atom("Knows", (ann, x)),))


def test_a_constant_declaration_makes_a_name_a_constant_in_horn_rules():
    program = parse("constant ann. Knows(ann, bob). Likes(x, ann) :- Knows(x, ann).")
    rule = program.of_type(ast.HornRule)[0]
    assert rule.head.args == (ast.Var("x", "Thing"), ast.Const("ann", "Thing"))
    assert isinstance(rule.body[0].args[0], ast.Var)


def test_a_constant_of_a_fact_stays_a_variable_in_a_horn_rule():
    # Datalog: only declarations make constants; ``bob`` below is a variable
    rule = parse("Knows(ann, bob). Back(bob, x) :- Knows(x, bob).").statements[1]
    assert rule.head.args == (ast.Var("bob", "Thing"), ast.Var("x", "Thing"))


@pytest.mark.parametrize(
    "literal, const",
    [
        ('"bob"', ast.Const("bob", "Thing")),
        ("3", ast.Const("3", "Thing", 3.0)),
        ('"zed"', ast.Const("zed", "Thing")),
    ],
)
def test_quoted_names_and_numbers_are_constants_in_horn_rules(literal, const):
    program = parse(f"Knows(ann, bob). Age(ann, 3). R(x) :- Knows(x, {literal}).")
    assert program.statements[2].body[0].args == (ast.Var("x", "Thing"), const)
    assert const.name in program.signature.domains["Thing"].individuals


def test_quoted_and_bare_names_in_facts_are_the_same_constant():
    program = parse('Likes("ann", bob). Likes(ann, "bob").')
    first, second = program.statements
    assert first == second
    assert first.atom.args == thing("ann", "bob")
    assert program.signature.domains["Thing"].individuals == ["ann", "bob"]


def test_quoted_constant_in_a_horn_rule_equals_the_declared_one():
    text = "domain Person = {ann, bob}. predicate Knows(Person, Person). K2(x) :- Knows(x, ANN)."
    quoted = statement(text.replace("ANN", '"ann"'))
    assert quoted == statement(text.replace("ANN", "ann"))
    assert quoted.body[0].args[1] == ast.Const("ann", "Person")


# --- declarations ----------------------------------------------------------------------------


def decl(text, cls):
    found = parse(text).of_type(cls)
    assert len(found) == 1
    return found[0]


def test_enumerated_domain():
    program = parse("domain P = {a, b}.")
    assert program.statements == (ast.DomainDecl("P", (ast.Const("a", "P"), ast.Const("b", "P"))),)
    assert program.signature.domains["P"].individuals == ["a", "b"]


def test_integer_range_domain():
    d = decl("domain N = 0..9.", ast.DomainDecl)
    assert d.numeric and [c.value for c in d.individuals] == list(range(10))
    assert [c.name for c in d.individuals] == [str(i) for i in range(10)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("domain Node size 100.", ast.DomainDecl("Node", size=100)),
        ("domain Image.", ast.DomainDecl("Image")),
    ],
)
def test_sized_and_open_domains(text, expected):
    assert decl(text, ast.DomainDecl) == expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ("embedding(5)", ast.FeaturesDecl("P", embedding_size=5)),
        ('"file.csv"', ast.FeaturesDecl("P", path="file.csv")),
    ],
)
def test_features(source, expected):
    assert decl(f"domain P. features P = {source}.", ast.FeaturesDecl) == expected


def test_neural_predicate():
    text = (
        "domain Person = {a}. predicate Smokes(Person) = mlp(hidden = [16, 16], activation = elu)."
    )
    model = ast.ModelSpec("mlp", (ast.Option("hidden", (16, 16)), ast.Option("activation", "elu")))
    assert decl(text, ast.PredicateDecl) == ast.PredicateDecl("Smokes", ("Person",), model)
    assert parse(text).signature.predicates["Smokes"].kind == "neural"


@pytest.mark.parametrize(
    "model, expected, kind",
    [
        ("", None, "table"),
        (' = "friends.csv"', ast.ModelSpec("table", path="friends.csv"), "table"),
        (" = extern", ast.ModelSpec("extern"), "extern"),
    ],
)
def test_table_and_extern_predicates(model, expected, kind):
    program = parse(f"domain P = {{a}}. predicate F(P, P){model}.")
    assert program.of_type(ast.PredicateDecl)[0] == ast.PredicateDecl("F", ("P", "P"), expected)
    assert program.signature.predicates["F"].kind == kind


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "function f(Person) -> 4 = mlp(hidden = [8]).",
            ast.FunctionDecl(
                "f", ("Person",), 4, ast.ModelSpec("mlp", (ast.Option("hidden", (8,)),))
            ),
        ),
        (
            "function pair(Person, Person) -> Person.",
            ast.FunctionDecl("pair", ("Person", "Person"), "Person"),
        ),
    ],
)
def test_functions(text, expected):
    assert decl("domain Person = {a}. " + text, ast.FunctionDecl) == expected


PEOPLE = "domain Person = {a, b}. predicate Smokes(Person). predicate Adult(Person). "
PEOPLE += "predicate Friends(Person, Person). "
X, Y = ast.Var("x", "Person"), ast.Var("y", "Person")


def test_named_weighted_rule():
    rule = statement(PEOPLE + "rule r (weight = 2): forall x: Smokes(x).")
    body = ast.Atom("Smokes", (X,))
    assert rule == ast.Constraint(
        "r", ast.Quantified("forall", (ast.Binder((X,)),), None, body), 2.0
    )
    assert not rule.anonymous


def test_anonymous_constraint():
    rule = statement(PEOPLE + "\nforall x: Smokes(x).")
    assert rule.anonymous and rule.name == "rule@2:1" and rule.weight == 1.0


def test_guarded_quantifier():
    rule = statement(PEOPLE + "rule r: forall x in Person where Adult(x): Smokes(x).")
    q = rule.formula
    assert q.variables == (X,) and q.variables[0].written
    assert q.guard == ast.Atom("Adult", (X,))
    assert q.body == ast.Atom("Smokes", (X,))


def test_paired_variables():
    q = statement(PEOPLE + "rule r: forall diag(x, y): Friends(x, y).").formula
    assert q.binders == (ast.Binder((X, Y)),) and q.binders[0].paired
    assert q.body == ast.Atom("Friends", (X, Y))


def test_quantifier_options():
    q = statement(PEOPLE + "rule r: forall[p = 5] x: Smokes(x).").formula
    assert q.options == (ast.Option("p", 5),) and q.option("p") == 5
    assert formula("exists[p = 2.5] y: P(y)").option("p") == 2.5


def test_query_keeps_free_variables():
    query = statement(PEOPLE + "query q: Friends(x, b).")
    assert query == ast.Query("q", ast.Atom("Friends", (X, ast.Const("b", "Person"))))


@pytest.mark.parametrize(
    "text, preset, options, settings",
    [
        ("semantics godel.", "godel", (), PRESETS["godel"].to_dict()),
        (
            "semantics product(p_forall = 4).",
            "product",
            (ast.Option("p_forall", 4),),
            {"p_forall": 4.0, "and": "prod"},
        ),
        (
            "semantics (and = min, or = max).",
            None,
            (ast.Option("and", "min"), ast.Option("or", "max")),
            {"and": "min", "or": "max"},
        ),
    ],
)
def test_semantics(text, preset, options, settings):
    program = parse(text)
    assert program.statements == (ast.SemanticsDecl(preset, options),)
    chosen = program.signature.semantics.to_dict()
    assert {k: chosen[k] for k in settings} == settings


# --- imports ---------------------------------------------------------------------------------


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_import_is_relative_to_the_importing_file(tmp_path, monkeypatch):
    write(tmp_path / "lib" / "people.nesy", 'domain Person = {ann, bob}.\nimport "more.nesy".\n')
    write(tmp_path / "lib" / "more.nesy", "predicate Smokes(Person).\n")
    main = write(tmp_path / "main.nesy", 'import "lib/people.nesy".\nSmokes(ann).\n')
    monkeypatch.chdir(tmp_path / "lib")  # not the folder of main.nesy
    program = parse_path(main)
    kinds = [type(s).__name__ for s in program.statements]
    assert kinds == ["DomainDecl", "PredicateDecl", "Fact"]
    assert program.statements[2].atom.args == (ast.Const("ann", "Person"),)


def test_a_file_imported_twice_is_read_once(tmp_path):
    write(tmp_path / "base.nesy", "domain P = {a}.\n")
    write(tmp_path / "left.nesy", 'import "base.nesy".\n')
    main = write(tmp_path / "main.nesy", 'import "left.nesy".\nimport "base.nesy".\n')
    assert len(parse_path(main).of_type(ast.DomainDecl)) == 1


def test_import_from_text_is_relative_to_the_current_folder(tmp_path, monkeypatch):
    write(tmp_path / "base.nesy", "domain P = {a}.\n")
    monkeypatch.chdir(tmp_path)
    assert parse('import "base.nesy". predicate Q(P).').signature.domains["P"].individuals == ["a"]


def test_unknown_import_is_an_error(tmp_path):
    main = write(tmp_path / "main.nesy", 'import "nope.nesy".\n')
    with pytest.raises(RuleError, match="cannot import 'nope.nesy'"):
        parse_path(main)


# --- printing round-trips ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "(not forall x: P(x)) and Q(x)",
        "(not not exists x: P(x)) -> Q(x)",
        "P(x) and (not forall x: P(x)) or Q(x)",
        "not (P(x) -> Q(x))",
        "not (x = y) and P(x)",
        "(P(x) -> Q(x)) -> R(x)",
        "(P(x) <-> Q(x)) <-> R(x)",
        "P(x) <-> (Q(x) <-> R(x))",
        'P("ann", "a b", "say \\"hi\\"", 3, 2.5)',
        "forall[p = 5] diag(x in D, y), z where A(x) and B(y): C(z)",
    ],
)
def test_str_round_trips(text):
    parsed = formula(text)
    assert formula(str(parsed)) == parsed


def test_str_of_statements_round_trips():
    text = 'Likes("ann", bob). 0.7 :: Likes(bob, ann). not Likes(ann, ann). '
    text += 'R(x) :- Likes(x, "bob"), not Likes(x, x).'
    program = parse(text)
    again = parse(" ".join(str(s) for s in program.statements))
    assert again.statements == program.statements


class _RandomFormulas:
    """Random formula trees shaped as the parser builds them."""

    PREDICATES = ["P", "Q", "Edge", "likes_2"]
    NAMES = ["x", "y", "z", "ann", "notx", "or_else"]

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def term(self):
        r = self.rng.random()
        if r < 0.6:
            return ast.Ident(self.rng.choice(self.NAMES))
        if r < 0.75:
            return ast.Const(self.rng.choice(["ann", "a b", 'q"t', "x"]), quoted=True)
        if r < 0.9:
            number = self.rng.choice(["0", "7", "20", "2.5", "1e3"])
            return ast.Const(number, value=float(number))
        return ast.Apply("f", (ast.Ident(self.rng.choice(self.NAMES)),))

    def arith(self):
        # left-nested sums of left-nested products: the only shapes the grammar writes
        node = self.product()
        while self.rng.random() < 0.3:
            node = ast.Arith(self.rng.choice("+-"), node, self.product())
        return node

    def product(self):
        node = self.term()
        while self.rng.random() < 0.3:
            node = ast.Arith("*", node, self.term())
        return node

    def atom(self):
        n = self.rng.randint(0, 3)
        return ast.Atom(self.rng.choice(self.PREDICATES), tuple(self.term() for _ in range(n)))

    def quantified(self, depth):
        binders = []
        for _ in range(self.rng.randint(1, 2)):
            names = self.rng.sample(["x", "y", "z", "w"], self.rng.choice([1, 1, 2]))
            variables = tuple(
                ast.Var(n, "D", written=True) if self.rng.random() < 0.3 else ast.Var(n)
                for n in names
            )
            binders.append(ast.Binder(variables))
        guard = self.formula(1, quantifiers=False) if self.rng.random() < 0.2 else None
        options = (
            (ast.Option("p", self.rng.choice([2, 5, 0.5])),) if self.rng.random() < 0.2 else ()
        )
        kind = self.rng.choice(["forall", "exists"])
        return ast.Quantified(kind, tuple(binders), guard, self.formula(depth - 1), options)

    def formula(self, depth, quantifiers=True):
        r = self.rng.random()
        if depth <= 0 or r < 0.2:
            if self.rng.random() < 0.15:
                return ast.Compare(
                    self.rng.choice(["=", "!=", "<", "<=", ">", ">="]), self.arith(), self.arith()
                )
            return self.atom()
        if r < 0.4:
            return ast.Not(self.formula(depth - 1, quantifiers))
        if r < 0.55 and quantifiers:
            return self.quantified(depth)
        op = self.rng.choice(["and", "or", "->", "<->"])
        return ast.Binary(
            op, self.formula(depth - 1, quantifiers), self.formula(depth - 1, quantifiers)
        )


def test_random_formulas_round_trip():
    gen = _RandomFormulas(seed=2024)
    trees = [gen.formula(5) for _ in range(200)]
    texts = [str(t) for t in trees]
    # the generator covers the tricky cases: quantifiers under not and as operands
    for pattern in ["not (forall", "not (exists", "not not", " and (forall", "or (exists"]:
        assert any(pattern in t for t in texts), pattern
    assert any(re.search(r"^\((forall|exists) [^)]*\) (and|or|->|<->)", t) for t in texts)
    for tree, text in zip(trees, texts):
        assert formula(text) == tree, text
