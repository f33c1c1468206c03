"""The checker: every error it reports, with its message, line and column.

Most inputs are ``HEADER`` (5 lines) and one more line, so the error is on line 6; columns
are counted by hand in the comment next to each case.
"""

import pytest

from nesy.logic import RuleError, ast, parse, parse_path

HEADER = """domain Person = {ann, bob}.
domain City = {rome, oslo}.
predicate Smokes(Person).
predicate Friends(Person, Person).
predicate LivesIn(Person, City).
"""

NEURAL = "features Person = embedding(4).\n"  # line 6 when used


def errors(text):
    with pytest.raises(RuleError) as info:
        parse(text)
    return info.value


def only_error(text):
    """The single diagnostic of ``text``: one mistake gives one error, no follow-ups."""
    err = errors(text)
    assert len(err.diagnostics) == 1, str(err)
    diag = err.diagnostics[0]
    assert diag.severity == "error" and diag.filename == "<string>"
    return diag


def assert_error(text, line, column, message):
    diag = only_error(text)
    assert message in diag.message
    assert (diag.line, diag.column) == (line, column), diag.message
    shown = text.splitlines()[line - 1]
    assert diag.source_line == shown
    assert diag.format().endswith(f"    {shown.rstrip()}\n    {' ' * (column - 1)}^")


# (line 6, column, message); the column is that of the first character of the name shown
CASES = {
    # names
    "undefined predicate in a rule": (
        "rule r: forall x: Drinks(x).",
        19,
        "undefined predicate 'Drinks'",
    ),
    "undefined predicate in a Horn body": (
        # C1 ancer(x)9 :-12 Smokes(x),23 D25
        "Cancer(x) :- Smokes(x), Drinks(x).",
        25,
        "undefined predicate 'Drinks'",
    ),
    "function used as a predicate": (
        "function best(Person) -> 3. rule r: forall x: best(x).",
        47,
        "best is a function, not a predicate",
    ),
    "undefined domain of a predicate": ("predicate Drinks(Water).", 1, "undefined domain 'Water'"),
    "undefined domain of a binder": (
        "rule r: forall x in Water: Smokes(x).",
        16,
        "undefined domain 'Water'",
    ),
    "undefined domain of a constant": ("constant carl: Water.", 1, "undefined domain 'Water'"),
    "undefined domain of features": (
        "features Water = embedding(3).",
        1,
        "features for undefined domain 'Water'",
    ),
    "undefined domain of a function result": (
        "function f(Person) -> Water.",
        1,
        "undefined domain 'Water'",
    ),
    "undefined function": (
        # Smokes( at 19..25, g26
        "rule r: forall x: Smokes(g(x)).",
        26,
        "function 'g' is undefined",
    ),
    "predicate used as a function": (
        "rule r: forall x: Smokes(Smokes(x)).",
        26,
        "function 'Smokes' is a predicate",
    ),
    # duplicates
    "duplicate domain": (
        "domain Person = {carl}.",
        1,
        "duplicate domain 'Person' (first declared at <string>:1:1)",
    ),
    "duplicate predicate": (
        "predicate Smokes(Person).",
        1,
        "duplicate name 'Smokes' (first declared at <string>:3:1)",
    ),
    "function named like a predicate": (
        "function Friends(Person) -> 3.",
        1,
        "duplicate name 'Friends'",
    ),
    "individual listed twice": (
        # domain Color = {red,20 r22
        "domain Color = {red, red}.",
        22,
        "individual 'red' listed twice in Color",
    ),
    # arities
    "arity in a rule": ("rule r: forall x: Smokes(x, x).", 19, "Smokes takes 1 argument, got 2"),
    "arity in a fact": ("Friends(ann).", 1, "Friends takes 2 arguments, got 1"),
    "arity in a Horn body": ("Cancer(x) :- Friends(x).", 14, "Friends takes 2 arguments, got 1"),
    "arity of a function": (
        "function best(Person) -> 3 = mlp(hidden = [4]). predicate D(Person) = mlp(). "
        # rule r: at 78, forall x: 86..94, D(96, best(98
        "rule r: forall x: D(best(x, x)).",
        98,
        "best takes 1 arguments, got 2",
    ),
    # types and individuals
    "constant of another domain in a fact": (
        "Smokes(rome).",
        8,
        "'rome' is an individual of City, not of Person",
    ),
    "constant of another domain in a rule": (
        "rule r: Smokes(rome).",
        16,
        "'rome' is an individual of City, not of Person",
    ),
    "constant of another domain in a Horn rule": (
        # LivesIn( at 14..21, x22 ,23 a25
        "Cancer(x) :- LivesIn(x, ann).",
        25,
        "'ann' is an individual of Person, not of City",
    ),
    "unknown individual in a fact": (
        "Smokes(carl).",
        8,
        "unknown individual 'carl' of domain Person",
    ),
    "unknown quoted individual in a rule": (
        'rule r: Smokes("carl").',
        16,
        "unknown individual 'carl' of domain Person",
    ),
    "unknown individual in a Horn rule": (
        'Cancer(x) :- Friends(x, "carl").',
        25,
        "unknown individual 'carl' of domain Person",
    ),
    "variable at two types in a rule": (
        # Smokes(x26) and LivesIn(ann, x46)
        "rule r: forall x: Smokes(x) and LivesIn(ann, x).",
        46,
        "variable x is used as City here and as Person at <string>:6:26",
    ),
    "variable at two types in a Horn rule": (
        # Both(x) :- Smokes(x19), LivesIn(ann, x36)
        "Both(x) :- Smokes(x), LivesIn(ann, x).",
        36,
        "variable x is used as City here and as Person at <string>:6:19",
    ),
    "variable used against its binder's domain": (
        "rule r: forall x in City: Smokes(x).",
        34,
        "variable x is used as Person here and as City at its binder",
    ),
    "domain that cannot be inferred": (
        "rule r: forall x: x = x.",
        16,
        "cannot infer the domain of x; write 'x in Domain'",
    ),
    "function result of the wrong domain": (
        "function home(Person) -> City = mlp(). predicate D(Person) = mlp(). "
        # rule r: at 69, forall x: 77..85, D(87, home(89
        "rule r: forall x: D(home(x)).",
        89,
        "home(x) has domain City, expected Person",
    ),
    # variables
    "unbound variable in a Horn head": (
        "Cancer(x) :- Smokes(y).",
        8,
        "unbound variable x in the head: it must occur in a positive body atom",
    ),
    "unbound variable in a negated literal": (
        # not Friends(x37, y40)
        "Cancer(x) :- Smokes(x), not Friends(x, y).",
        40,
        "unbound variable y in a negated literal",
    ),
    "unbound variable in a comparison": (
        "Cancer(x) :- Smokes(x), x != y.",
        30,
        "unbound variable y in a comparison",
    ),
    "free variable in a named rule": (
        "rule r: Smokes(x).",
        16,
        "'x' is not bound by a quantifier and is not a declared constant "
        "(a free variable in a closed formula)",
    ),
    "free variable in an anonymous constraint": (
        "forall y: Friends(x, y).",
        19,
        "'x' is not bound by a quantifier",
    ),
    "free variable in a guard": (
        # where Friends(x32, z35)
        "rule r: forall x where Friends(x, z): Smokes(x).",
        35,
        "'z' is not bound",
    ),
    "guard with a quantifier": (
        # where e24
        "rule r: forall x where exists y: Friends(x, y): Smokes(x).",
        24,
        "a guard cannot contain a quantifier",
    ),
    "guard with a negated quantifier": (
        "rule r: forall x where not exists y: Friends(x, y): Smokes(x).",
        24,
        "a guard cannot contain a quantifier",
    ),
    "shadowed variable": (
        # exists x26
        "rule r: forall x: exists x: Smokes(x).",
        26,
        "x is already bound by an enclosing quantifier; use another name",
    ),
    # semantics
    "unknown semantics preset": (
        "semantics fuzzy.",
        1,
        "bad semantics: unknown semantics preset 'fuzzy'",
    ),
    "unknown operator name": (
        "semantics (and = plus).",
        12,
        "bad semantics: unknown 'and' operator 'plus'",
    ),
    "unknown operator name after a good one": (
        # (or = max, a22
        "semantics (or = max, and = plus).",
        22,
        "unknown 'and' operator 'plus'",
    ),
    "unknown semantics option": (
        "semantics godel(p_all = 3).",
        17,
        "bad semantics: unknown semantics key 'p_all'",
    ),
    "empty semantics": ("semantics.", 1, "semantics needs a preset name or options"),
    # degrees
    "fact degree above 1": ("1.5 :: Smokes(ann).", 1, "degree 1.5 is outside [0, 1]"),
    "integer fact degree above 1": ("2 :: Smokes(ann).", 1, "degree 2 is outside [0, 1]"),
    "rule confidence above 1": (
        "1.5 :: Cancer(x) :- Smokes(x).",
        1,
        "confidence 1.5 is outside [0, 1]",
    ),
    # models
    "unknown model kind": (
        # predicate Drinks(Person) = c28
        "predicate Drinks(Person) = cnn(layers = 3).",
        28,
        "unknown model 'cnn'; expected one of",
    ),
    "unknown model option": (
        "predicate Drinks(Person) = mlp(width = 3).",
        32,
        "unknown option 'width' for mlp; expected ['activation', 'dropout', 'hidden', 'output']",
    ),
    "option of an extern model": (
        "predicate Drinks(Person) = extern(size = 3).",
        35,
        "unknown option 'size' for extern; expected none",
    ),
    "unknown activation": (
        "predicate Drinks(Person) = mlp(activation = swish).",
        32,
        "unknown activation 'swish'",
    ),
    "bad hidden sizes": (
        "predicate Drinks(Person) = mlp(hidden = [8, 0]).",
        32,
        "hidden must be positive integers, got (8, 0)",
    ),
    "bad dropout": (
        "predicate Drinks(Person) = mlp(dropout = 1.5).",
        32,
        "dropout must be in [0, 1)",
    ),
    "unknown output": (
        "predicate Drinks(Person) = mlp(output = relu).",
        32,
        "unknown output 'relu'",
    ),
    "softmax without a class argument": (
        "predicate Drinks(Person) = mlp(output = softmax).",
        32,
        "output = softmax needs a class argument",
    ),
    "function mlp with an output": (
        # function f(Person) -> 3 = mlp(o31
        "function f(Person) -> 3 = mlp(output = sigmoid).",
        31,
        "a function's mlp has a linear output",
    ),
    # sizes
    "empty sized domain": ("domain Node size 0.", 1, "domain Node must have at least one"),
    "embedding of size 0": ("features City = embedding(0).", 1, "an embedding needs a size of"),
    "function of size 0": ("function f(Person) -> 0.", 1, "a function's feature size must be"),
    "constant of a sized domain": (
        "domain Node size 3. constant n1: Node.",
        21,
        "domain Node does not list individuals",
    ),
    "features given twice": (
        'features City = embedding(2). features City = "c.csv".',
        31,
        "features of City are given twice",
    ),
}


@pytest.mark.parametrize("line6, column, message", CASES.values(), ids=CASES.keys())
def test_error(line6, column, message):
    assert_error(HEADER + line6 + "\n", 6, column, message)


def test_duplicate_rule_name():
    text = HEADER + "rule r: forall x: Smokes(x).\nrule r: exists x: Smokes(x).\n"
    assert_error(text, 7, 1, "duplicate rule name 'r' (first at <string>:6:1)")


def test_duplicate_query_name():
    text = HEADER + "query q: Smokes(x).\n\n  query q: Friends(x, y).\n"
    assert_error(text, 8, 3, "duplicate query name 'q' (first at <string>:6:1)")


def test_learned_predicate_as_horn_head():
    text = HEADER + "predicate Drinks(Person) = mlp(hidden = [4]).\nDrinks(x) :- Smokes(x).\n"
    assert_error(text, 7, 1, "Drinks is a learned predicate; it cannot be a rule head")


def test_extern_predicate_as_horn_head():
    text = HEADER + "predicate Drinks(Person) = extern.\n  Drinks(x) :- Smokes(x).\n"
    assert_error(text, 7, 3, "Drinks is a learned predicate; it cannot be a rule head")


FUNCTIONS = HEADER + NEURAL + "function best(Person) -> Person = mlp(hidden = [4]).\n"


def test_function_term_given_to_a_table_predicate():
    # rule r: forall x: Smokes(best26
    text = FUNCTIONS + "rule r: forall x: Smokes(best(x)).\n"
    assert_error(text, 8, 26, "best(x) is a feature vector; a table predicate takes individuals")


def test_function_term_given_to_a_neural_predicate_is_fine():
    text = FUNCTIONS + "predicate Likes(Person) = mlp().\nrule r: forall x: Likes(best(x)).\n"
    rule = parse(text).of_type(ast.Constraint)[0]
    x = ast.Var("x", "Person")
    assert rule.formula.body == ast.Atom("Likes", (ast.Apply("best", (x,)),))


def test_function_term_in_a_fact():
    # Smokes(b8
    assert_error(FUNCTIONS + "Smokes(best(ann)).\n", 8, 8, "a fact's arguments are constants")


def test_function_term_in_a_horn_rule():
    # Cancer(x) :- Friends(x, b25
    text = FUNCTIONS + "Cancer(x) :- Friends(x, best(x)).\n"
    assert_error(text, 8, 25, "Horn rules take individuals, not function terms")


def test_function_term_in_a_horn_head():
    # Best(b6
    text = FUNCTIONS + "Best(best(x)) :- Smokes(x).\n"
    assert_error(text, 8, 6, "Horn rules take individuals, not function terms")


# --- stratification --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules, line, column, cycle",
    [
        ("P(x) :- Q(x), not R(x).\nR(x) :- P(x).", 2, 1, "P -> not R -> P"),
        ("P(x) :- Q(x), not P(x).", 2, 1, "P -> not P"),
        ("A(x) :- Q(x), not B(x).\nB(x) :- C(x).\nC(x) :- A(x).", 2, 1, "A -> not B -> C -> A"),
        # at the rule with the negation, wherever it is
        ("R(x) :- P(x).\n  P(x) :- Q(x), not R(x).", 3, 3, "P -> not R -> P"),
    ],
)
def test_unstratifiable_negation_names_the_cycle(rules, line, column, cycle):
    diag = only_error("Q(a).\n" + rules + "\n")
    assert diag.message == (
        f"unstratifiable negation: {cycle} (a predicate may not depend negatively on itself)"
    )
    assert (diag.line, diag.column) == (line, column)


def test_stratified_negation_is_fine():
    program = parse("Q(a). Q(b). R(a).\nP(x) :- Q(x), not R(x).\nS(x) :- P(x), not R(x).\n")
    assert [s.head.predicate for s in program.of_type(ast.HornRule)] == ["P", "S"]


# --- imports ---------------------------------------------------------------------------------


def test_import_cycle_names_the_chain(tmp_path):
    (tmp_path / "a.nesy").write_text('import "b.nesy".\nEdge(a, b).\n', encoding="utf-8")
    (tmp_path / "b.nesy").write_text('# b\n  import "a.nesy".\n', encoding="utf-8")
    with pytest.raises(RuleError) as info:
        parse_path(tmp_path / "a.nesy")
    (diag,) = info.value.diagnostics
    assert diag.message == "import cycle: a.nesy -> b.nesy -> a.nesy"
    assert diag.filename.endswith("b.nesy")
    assert (diag.line, diag.column) == (2, 3)
    assert diag.source_line == '  import "a.nesy".'


def test_a_file_importing_itself(tmp_path):
    (tmp_path / "a.nesy").write_text('Edge(a, b).\nimport "a.nesy".\n', encoding="utf-8")
    with pytest.raises(RuleError) as info:
        parse_path(tmp_path / "a.nesy")
    assert info.value.message == "import cycle: a.nesy -> a.nesy"
    assert (info.value.line, info.value.column) == (2, 1)


def test_missing_import(tmp_path):
    main = tmp_path / "main.nesy"
    main.write_text('domain P = {a}.\nimport "missing.nesy".\n', encoding="utf-8")
    with pytest.raises(RuleError) as info:
        parse_path(main)
    err = info.value
    assert err.message == "cannot import 'missing.nesy': No such file or directory"
    assert err.filename == str(main) and (err.line, err.column) == (2, 1)


def test_checker_error_in_an_imported_file_names_that_file(tmp_path):
    (tmp_path / "lib.nesy").write_text(
        "domain P = {a}.\npredicate Q(P).\nQ(b).\n", encoding="utf-8"
    )
    main = tmp_path / "main.nesy"
    main.write_text('import "lib.nesy".\nrule r: forall x: Q(x).\n', encoding="utf-8")
    with pytest.raises(RuleError) as info:
        parse_path(main)
    (diag,) = info.value.diagnostics
    assert diag.filename.endswith("lib.nesy") and (diag.line, diag.column) == (3, 3)
    assert diag.source_line == "Q(b)."


# --- many errors at once ---------------------------------------------------------------------


def test_all_errors_are_reported_sorted_by_line():
    text = "\n".join(
        [
            "domain P = {a}.",
            "predicate Q(P).",
            "rule r1: forall x: Nope(x).",  # 3:20 undefined predicate
            "Q(zz).",  # 4:3 unknown individual
            "1.5 :: Q(a).",  # 5:1 degree
            "rule r1: forall x: Q(x, x).",  # 6:1 duplicate rule, 6:20 arity
            "S(x) :- Q(y).",  # 7:3 unbound variable
        ]
    )
    err = errors(text)
    places = [(d.line, d.column) for d in err.diagnostics]
    assert places == [(3, 20), (4, 3), (5, 1), (6, 1), (6, 20), (7, 3)]
    assert "undefined predicate 'Nope'" in err.diagnostics[0].message
    assert "duplicate rule name 'r1'" in err.diagnostics[3].message
    assert (err.line, err.column, err.message) == (3, 20, err.diagnostics[0].message)
    # str(err) shows them all, each with its caret
    assert str(err).count("^") == 6 and str(err).count(": error: ") == 6


def test_constraints_see_constants_of_later_facts():
    # the order of statements does not matter: ``bob`` is a constant of a fact below
    program = parse("rule r: forall x: Knows(x, bob).\nKnows(ann, bob).\n")
    body = program.of_type(ast.Constraint)[0].formula.body
    assert body.args[1] == ast.Const("bob", "Thing")


# --- a valid Datalog file ------------------------------------------------------------------

DATALOG = """# a graph, no declarations
Edge(a, b). Edge(b, c).
Edge(c, "d").
0.5 :: Edge(d, a).
Start(a).
Path(x, y) :- Edge(x, y).
Path(x, z) :- Edge(x, y), Path(y, z).
Reach(x) :- Start(s), Path(s, x).
Far(x, "e") :- Reach(x), not Edge(x, x).
query q: Path(a, x).
rule cyclic: exists x: Path(x, x).
"""


def test_datalog_file_checks_in_the_default_domain():
    program = parse(DATALOG)
    sig = program.signature
    assert list(sig.domains) == ["Thing"]
    assert sig.domains["Thing"].individuals == ["a", "b", "c", "d", "e"]
    types = {name: (info.arg_types, info.kind) for name, info in sig.predicates.items()}
    assert types == {
        "Edge": (("Thing", "Thing"), "table"),
        "Start": (("Thing",), "table"),
        "Path": (("Thing", "Thing"), "derived"),
        "Reach": (("Thing",), "derived"),
        "Far": (("Thing", "Thing"), "derived"),
    }


def test_datalog_file_resolves_every_name():
    program = parse(DATALOG)

    def names(node):
        if isinstance(node, (ast.Ident, ast.Var, ast.Const)):
            yield node
        for child in getattr(node, "__dict__", {}).values():
            for item in child if isinstance(child, tuple) else (child,):
                if isinstance(item, ast.Atom | ast.Not | ast.Binary | ast.Quantified | ast.Binder):
                    yield from names(item)
                elif isinstance(item, (ast.Ident, ast.Var, ast.Const)):
                    yield item

    found = [n for s in program.statements for n in names(s)]
    assert found and not any(isinstance(n, ast.Ident) for n in found)
    assert all(n.domain == "Thing" for n in found)
    query = program.of_type(ast.Query)[0]
    assert query.formula.args == (ast.Const("a", "Thing"), ast.Var("x", "Thing"))


def test_declarations_may_come_in_any_order():
    program = parse(
        "predicate E(T, T).\nfeatures T = embedding(2).\nE(a, b).\ndomain T = {a, b}.\n"
    )
    info = program.signature.predicates["E"]
    assert info.arg_types == ("T", "T")
    assert program.signature.domains["T"].embedding_size == 2
