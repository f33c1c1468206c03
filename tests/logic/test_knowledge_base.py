"""Tests for nesy.logic's KnowledgeBase: loading, facts, models, truths, satisfaction, state,
display, errors, training, and agreement with the smokers example written in LTNtorch."""

import re

import numpy as np
import pytest

import nesy
from nesy.logic import RuleError, load, loads

K, EPS = 1 - 1e-4, 1e-4  # LTN's stable projections: pi_0(x) = K x + EPS, pi_1(x) = K x
SMOKERS = "rules/smokers.nesy"


def np_(t):
    return t.detach().numpy().astype(np.float64)


def pmean_error(xs, p=2.0, weights=None):
    """Stable pmean_error (LTN's forall and SatAgg), written out."""
    xs, w = np.asarray(xs, np.float64), np.ones(len(xs)) if weights is None else weights
    return 1 - (np.sum(w * (1 - K * xs) ** p) / np.sum(w)) ** (1 / p)


def pmean(xs, p=2.0, axis=None):
    return np.mean((K * np.asarray(xs, np.float64) + EPS) ** p, axis=axis) ** (1 / p)


def implies(a, c):  # stable Reichenbach
    return 1 - (K * a + EPS) + (K * a + EPS) * K * c


def and_(a, b):  # stable product
    return (K * a + EPS) * (K * b + EPS)


# --- loading ----------------------------------------------------------------------------------
def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_features_from_csv_in_any_order_and_an_import(tmp_path):
    write(tmp_path, "sub/people.csv", "name,f1,f2\ncat,3,4\nann,1,2\nbob,5,6\n")
    write(
        tmp_path,
        "sub/common.nesy",
        "domain Person = {ann, bob, cat}.\n"
        'features Person = "people.csv".\npredicate Smokes(Person) = extern.\n',
    )
    main = write(
        tmp_path, "main.nesy", 'import "sub/common.nesy".\nrule all_smoke: forall x: Smokes(x).\n'
    )
    kb = load(main)
    seen = []
    kb.bind("Smokes", lambda f: (seen.append(f.numpy().copy()), f[:, 0] / 10.0)[1])
    np.testing.assert_allclose(np_(kb.truth("Smokes(x)")), [0.1, 0.5, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(seen[0], [[1, 2], [5, 6], [3, 4]])  # ann, bob, cat
    np.testing.assert_allclose(
        kb.truth("all_smoke").item(), pmean_error([0.1, 0.5, 0.3]), rtol=1e-6
    )


def test_load_features_from_npy_sets_the_domain_size(tmp_path):
    features = np.arange(8.0).reshape(4, 2) / 10
    np.save(tmp_path / "items.npy", features)
    path = write(
        tmp_path,
        "items.nesy",
        'domain Item.\nfeatures Item = "items.npy".\npredicate Cheap(Item) = mlp(hidden = [3]).\n',
    )
    kb = load(path)
    assert kb.truth("Cheap(i)").shape == (4,)
    assert kb.models.Cheap[0].weight.shape == (3, 2)
    x = nesy.tensor(features, dtype=nesy.float32)
    np.testing.assert_allclose(
        np_(kb.truth("Cheap(i)")), np_(kb.models.Cheap(x)).ravel(), rtol=1e-6
    )


def test_load_reports_a_missing_feature_file(tmp_path):
    path = write(tmp_path, "bad.nesy", 'domain Item.\nfeatures Item = "nope.csv".\n')
    with pytest.raises(RuleError) as info:
        load(path)
    assert info.value.line == 2 and "features of Item" in info.value.message


# --- facts ------------------------------------------------------------------------------------
CITIES = """
domain City = {"New York", paris, rome}.
predicate Capital(City).
predicate Big(City).
predicate Road(City, City).
Capital(paris). Capital("rome").
0.7 :: Big("New York"). 0.2 :: Big(paris). 0.4 :: Big(paris). not Big(rome).
Road(paris, rome). Road("New York", "paris").
rule capitals_are_big: forall x: Capital(x) -> Big(x).
"""


def test_facts_fill_tables_closed_world_with_degrees():
    kb = loads(CITIES)
    np.testing.assert_array_equal(np_(kb.truth("Capital(c)")), [0, 1, 1])
    np.testing.assert_allclose(np_(kb.truth("Big(c)")), [0.7, 0.4, 0.0], rtol=1e-6)
    road = np.zeros((3, 3))
    road[1, 2] = road[0, 1] = 1
    np.testing.assert_array_equal(np_(kb.truth("Road(a, b)")), road)
    expected = pmean_error(implies(np.array([0, 1, 1.0]), np.array([0.7, 0.4, 0])))
    np.testing.assert_allclose(kb.truth("capitals_are_big").item(), expected, rtol=1e-6)
    assert kb.truth('Big("New York")').item() == pytest.approx(0.7)
    assert kb.truth("Road(paris, rome)").item() == 1.0


def test_add_fact_and_set_truths():
    kb = loads(CITIES)
    kb.add_fact("Capital", "New York", degree=0.5)
    np.testing.assert_allclose(np_(kb.truth("Capital(c)")), [0.5, 1, 1])
    kb.set_truths("Big", np.array([1.0, 0.25, 0.5]))
    np.testing.assert_allclose(np_(kb.truth("Big(c)")), [1.0, 0.25, 0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        kb.set_truths("Big", np.array([1.0, 1.5, 0.5]))


LEARNED = """
domain Person = {a, b, c, d}.
features Person = embedding(3).
predicate Smokes(Person) = mlp(hidden = [4]).
Smokes(a). Smokes(c). 0.8 :: Smokes(b). not Smokes(d).
rule everyone (weight = 2): forall x: Smokes(x).
rule ignored (weight = 0): exists x: Smokes(x).
"""


def smokes_outputs(kb):
    """The model's truth for each person, computed by calling the model directly."""
    return np_(kb.models.Smokes(kb.embeddings.Person)).ravel()


def test_facts_about_a_learned_predicate_become_constraints():
    kb = loads(LEARNED)
    assert list(kb.rules) == ["facts(Smokes)", "facts(not Smokes)", "everyone", "ignored"]
    t = smokes_outputs(kb)
    graded = and_(implies(t[1], 0.8), implies(0.8, t[1]))  # Smokes(b) <-> 0.8
    np.testing.assert_allclose(
        kb.truth("facts(Smokes)").item(), pmean_error([t[0], t[2], graded]), rtol=1e-5
    )
    np.testing.assert_allclose(
        kb.truth("facts(not Smokes)").item(), pmean_error([1 - t[3]]), rtol=1e-5
    )
    assert kb.atoms("Smokes", 0.0).keys() == {("a",), ("b",), ("c",), ("d",)}


def test_satisfaction_is_the_weighted_pmean_error_and_loss_its_complement():
    kb = loads(LEARNED)
    t = smokes_outputs(kb)
    truths = [kb.truth(name).item() for name in kb.rules]
    np.testing.assert_allclose(truths[2], pmean_error(t), rtol=1e-5)
    np.testing.assert_allclose(truths[3], pmean(t), rtol=1e-5)
    expected = pmean_error(truths, weights=np.array([1.0, 1.0, 2.0, 0.0]))
    np.testing.assert_allclose(kb.satisfaction().item(), expected, rtol=1e-5)
    np.testing.assert_allclose(kb.loss().item(), 1 - kb.satisfaction().item(), rtol=1e-6)


def test_atoms_keep_the_groundings_above_min_truth():
    kb = loads(CITIES)
    assert kb.atoms("Road", 0.5) == {("paris", "rome"): 1.0, ("New York", "paris"): 1.0}
    big = kb.atoms("Big", 0.3)
    assert big.keys() == {("New York",), ("paris",)}
    assert big[("paris",)] == pytest.approx(0.4)
    assert len(kb.atoms("Road")) == 9  # min_truth 0: every grounding


# --- binding models ---------------------------------------------------------------------------
class PairModel(nesy.nn.Module):
    """Friends(x, y) from both persons' features, one tensor per argument."""

    def __init__(self):
        super().__init__()
        self.linear = nesy.nn.Linear(6, 1)

    def forward(self, x, y):
        return self.linear(nesy.cat([x, y], dim=-1)).sigmoid()


BOUND = """
domain Person = {a, b, c}.
features Person = embedding(3).
predicate Friends(Person, Person) = extern.
predicate Tall(Person) = extern.
Friends(a, b). not Friends(b, c).
rule symmetric: forall x, y: Friends(x, y) -> Friends(y, x).
"""


def test_bind_a_module_and_a_callable():
    kb = loads(BOUND)
    model = PairModel()
    kb.bind("Friends", model)
    names = [n for n, _ in kb.named_parameters()]
    assert names == [
        "embeddings.Person",
        "models.Friends.linear.weight",
        "models.Friends.linear.bias",
    ]
    assert any(p is model.linear.weight for p in kb.parameters())
    e = kb.embeddings.Person.detach().numpy()
    pairs = np.concatenate([np.repeat(e, 3, axis=0), np.tile(e, (3, 1))], axis=1)
    w, b = model.linear.weight.detach().numpy(), model.linear.bias.detach().numpy()
    F = (1 / (1 + np.exp(-(pairs @ w.T + b)))).reshape(3, 3)
    np.testing.assert_allclose(np_(kb.truth("Friends(x, y)")), F, rtol=1e-5)
    np.testing.assert_allclose(
        kb.truth("symmetric").item(), pmean_error(implies(F, F.T).ravel()), rtol=1e-5
    )
    np.testing.assert_allclose(kb.truth("facts(Friends)").item(), pmean_error([F[0, 1]]), rtol=1e-5)
    kb.bind("Tall", lambda f: f.sum(-1).sigmoid())
    tall = 1 / (1 + np.exp(-e.sum(-1)))
    np.testing.assert_allclose(np_(kb.truth("Tall(x)")), tall, rtol=1e-5)
    assert len(list(kb.parameters())) == 3  # a plain callable has no parameters


# --- softmax classifiers, function terms, arithmetic guards --------------------------------------
DIGITS = """
domain Image size 6.
domain Pair size 4.
domain Num = 0..9.
predicate Digit(Image, Num) = mlp(hidden = [8], output = softmax).
function left(Pair) -> Image.
function right(Pair) -> Image.
function total(Pair) -> 1.
rule some_three: exists x: Digit(x, 3).
rule addition: forall p: exists d1, d2 where d1 + d2 = total(p):
    Digit(left(p), d1) and Digit(right(p), d2).
"""


@pytest.fixture
def digits():
    nesy.manual_seed(0)
    kb = loads(DIGITS)
    rng = np.random.default_rng(0)
    images = rng.random((6, 5))
    kb.set_features("Image", images)
    left, right = np.array([0, 1, 2, 3]), np.array([5, 4, 3, 2])
    kb.set_function("left", images[left])
    kb.set_function("right", images[right])
    kb.set_function("total", np.array([3.0, 7.0, 0.0, 18.0]))
    probs = np_(kb.models.Digit(nesy.tensor(images, dtype=nesy.float32)))
    return kb, probs, left, right, np.array([3, 7, 0, 18])


def test_softmax_classifier_predicate(digits):
    kb, probs, *_ = digits
    table = np_(kb.truth("Digit(x, d)"))
    assert table.shape == (6, 10)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(table, probs, rtol=1e-6)
    np.testing.assert_allclose(np_(kb.truth("Digit(x, 3)")), probs[:, 3], rtol=1e-6)
    np.testing.assert_allclose(kb.truth("some_three").item(), pmean(probs[:, 3]), rtol=1e-5)


def test_function_terms_and_arithmetic_guards(digits):
    kb, probs, left, right, total = digits
    np.testing.assert_allclose(np_(kb.truth("Digit(left(p), d)")), probs[left], rtol=1e-6)
    per_pair = []
    for p in range(4):
        terms = [
            and_(probs[left[p], d1], probs[right[p], d2])
            for d1 in range(10)
            for d2 in range(10)
            if d1 + d2 == total[p]
        ]
        per_pair.append(pmean(terms))
    np.testing.assert_allclose(kb.truth("addition").item(), pmean_error(per_pair), rtol=1e-5)


# --- truth, queries, state, display -------------------------------------------------------------
def test_truth_of_names_formulas_and_queries():
    kb = loads(
        CITIES + "query big_capital: exists x: Capital(x) and Big(x).\n"
        "query roads_from: Road(x, y) and Capital(x).\n"
    )
    road = np_(kb.truth("Road(a, b)"))
    np.testing.assert_array_equal(np_(kb.truth("Road(b, a)")), road)  # axes in order of use
    capital = np.array([0, 1, 1.0])
    expected = pmean(and_(capital, np.array([0.7, 0.4, 0.0])))
    np.testing.assert_allclose(kb.truth("big_capital").item(), expected, rtol=1e-5)
    np.testing.assert_allclose(np_(kb.truth("roads_from")), and_(road, capital[:, None]), rtol=1e-5)
    assert kb.truth("capitals_are_big").shape == ()


def test_state_dict_round_trip_gives_identical_truths():
    nesy.manual_seed(1)
    kb = load(SMOKERS)
    state = {k: v.clone() for k, v in kb.state_dict().items()}
    nesy.manual_seed(2)
    fresh = load(SMOKERS)
    assert fresh.rule_truths() != kb.rule_truths()
    fresh.load_state_dict(state)
    assert fresh.rule_truths() == kb.rule_truths()
    assert fresh.satisfaction().item() == kb.satisfaction().item()


def test_repr_and_html():
    kb = load(SMOKERS)
    text = repr(kb)
    for word in [
        "Person: 14 individuals",
        "Smokes(Person)",
        "Friends(Person, Person)",
        "facts(not Cancer)",
        "has_friend",
        "forall x: exists[p = 6] y: Friends(x, y)",
        "cancer_implies_smoking",
    ]:
        assert word in text
    html = kb._repr_html_()
    assert html.count("<table>") == 3 and "<td>smoking_spreads</td>" in html
    assert "&lt;" not in text and "-&gt;" in html  # formulas escaped in HTML only


# --- errors while evaluating ------------------------------------------------------------------
def test_error_extern_predicate_not_bound():
    kb = loads(BOUND)
    with pytest.raises(RuleError) as info:
        kb.truth("symmetric")
    assert "Friends" in info.value.message and "kb.bind" in info.value.message
    assert info.value.line == 7


@pytest.mark.parametrize(
    "value, words", [(1.5, ["outside [0, 1]", "max 1.5"]), (float("nan"), ["NaN"])]
)
def test_error_model_output_not_a_truth(value, words):
    kb = loads(BOUND)
    kb.bind("Tall", lambda f: nesy.full((f.shape[0],), value))
    with pytest.raises(RuleError) as info:
        kb.truth("forall x: Tall(x)")
    assert info.value.message.startswith("Tall returned")
    for word in words:
        assert word in info.value.message


def test_error_feature_size_mismatch_after_the_model_was_built():
    kb = loads("domain Item.\npredicate Good(Item) = mlp(hidden = [4]).\n")
    kb.set_features("Item", np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"4 columns.*\['Good'\].*built for 3"):
        kb.set_features("Item", np.zeros((5, 4)))
    with pytest.raises(ValueError, match="6 rows.*5 individuals"):
        kb.set_features("Item", np.zeros((6, 3)))


def test_error_missing_features_and_unknown_size():
    kb = loads(
        "domain Item size 3.\npredicate Good(Item) = mlp().\nrule good: forall x: Good(x).\n"
    )
    with pytest.raises(RuleError) as info:
        kb.truth("good")
    assert "features of Item" in info.value.message and info.value.line == 3
    kb = loads("domain Item.\npredicate Cheap(Item).\nrule cheap: forall x: Cheap(x).\n")
    with pytest.raises(RuleError) as info:
        kb.truth("cheap")
    assert "size of domain Item is unknown" in info.value.message
    assert (info.value.line, info.value.column) == (3, 20)


def test_grounding_budget_names_the_rule_and_counts_lone_atoms():
    kb = load(SMOKERS, max_groundings=100)
    with pytest.raises(RuleError) as info:
        kb.truth("symmetric")
    e = info.value
    for word in ["rule symmetric", "x, y", "196 values", "14 x 14", "budget of 100"]:
        assert word in e.message
    with open(SMOKERS) as f:
        line = next(i for i, text in enumerate(f, 1) if text.startswith("rule symmetric"))
    assert e.line == line and e.filename.endswith("smokers.nesy")
    assert kb.truth("anti_reflexive").shape == ()  # 14 groundings: within budget
    for formula in ["Friends(x, y)", "not Friends(x, y)"]:  # a table of 196 truths
        with pytest.raises(RuleError, match="196 values"):
            kb.truth(formula)
    assert kb.truth("Friends(x, x)").shape == (14,)


def test_guard_on_a_table_set_with_requires_grad():
    kb = loads(CITIES)
    big = nesy.tensor(np.array([0.9, 0.2, 0.6], np.float32), requires_grad=True)
    kb.set_truths("Big", big)
    out = kb.truth("forall c where Big(c): Capital(c)")
    np.testing.assert_allclose(out.item(), pmean_error([0.0, 1.0]), rtol=1e-6)
    kb.truth("capitals_are_big").backward()
    assert big.grad is not None


# --- knowledge bases are independent; odd arguments are clear errors ------------------------
def test_bind_on_one_knowledge_base_leaves_another_alone():
    from nesy.logic import KnowledgeBase, parse

    program = parse(CITIES)
    first = KnowledgeBase(program)
    first.bind("Big", lambda f: nesy.full((f.shape[0],), 0.5))
    second = KnowledgeBase(program)
    assert "facts(Big)" not in second.rules
    np.testing.assert_allclose(np_(second.truth("Big(c)")), [0.7, 0.4, 0.0], rtol=1e-6)


def test_domain_size_set_on_one_knowledge_base_leaves_another_alone():
    from nesy.logic import KnowledgeBase, parse

    program = parse("domain Item.\npredicate Cheap(Item).\nrule r: forall i: Cheap(i).\n")
    KnowledgeBase(program).set_truths("Cheap", np.ones(4))
    second = KnowledgeBase(program)
    second.set_truths("Cheap", np.ones(5))
    assert second.truth("r").item() == pytest.approx(1 - 1e-4)


def test_function_term_as_class_argument_is_a_rule_error():
    kb = loads(
        "domain Image size 3.\ndomain Num = 0..4.\n"
        "predicate Digit(Image, Num) = mlp(output = softmax).\n"
        "function label(Image) -> Num.\nrule r: forall x: Digit(x, label(x)).\n"
    )
    kb.set_features("Image", np.zeros((3, 2)))
    with pytest.raises(RuleError):
        kb.truth("r")


def test_compare_with_a_trainable_function_table():
    kb = loads(
        "domain Pair size 2.\nfunction total(Pair) -> 1.\npredicate Small(Pair).\n"
        "Small(0).\nrule r: forall p where total(p) < 3: Small(p).\n"
    )
    kb.set_function("total", nesy.tensor(np.float32([1.0, 5.0]), requires_grad=True))
    assert kb.truth("r").item() == pytest.approx(1 - 1e-4)


def test_anonymous_constraints_in_two_files(tmp_path):
    write(tmp_path, "other.nesy", "domain P = {a, b}.\npredicate S(P).\nforall x: S(x).\n")
    main = write(tmp_path, "main.nesy", 'import "other.nesy".\npredicate T(P).\nforall x: T(x).\n')
    assert len(load(main).rules) == 2


# --- training ---------------------------------------------------------------------------------
def test_training_smokers_increases_satisfaction():
    nesy.manual_seed(0)
    kb = load(SMOKERS)
    optimizer = nesy.optim.Adam(kb.parameters(), lr=0.001)
    before = kb.satisfaction().item()
    for _ in range(200):
        optimizer.zero_grad()
        kb.loss().backward()
        optimizer.step()
    after = kb.satisfaction().item()
    assert after > before + 0.1


# --- the smokers example in LTNtorch ------------------------------------------------------------
def test_smokers_matches_ltn():
    torch = pytest.importorskip("torch")
    ltn = pytest.importorskip("ltn")
    nesy.manual_seed(3)
    kb = load(SMOKERS)
    emb = torch.tensor(kb.embeddings.Person.detach().numpy())

    def torch_mlp(module):
        state = {k: torch.tensor(v.numpy()) for k, v in module.state_dict().items()}
        shapes = [v.shape for k, v in state.items() if k.endswith("weight")]
        layers = []
        for i, (n_out, n_in) in enumerate(shapes):
            layers += [
                torch.nn.Linear(n_in, n_out),
                torch.nn.ELU() if i < len(shapes) - 1 else torch.nn.Sigmoid(),
            ]
        net = torch.nn.Sequential(*layers)
        net.load_state_dict(state)
        return net

    S, F, C = (torch_mlp(getattr(kb.models, n)) for n in ("Smokes", "Friends", "Cancer"))
    Smokes = ltn.Predicate(func=lambda x: S(x).squeeze(-1))
    Friends = ltn.Predicate(func=lambda x, y: F(torch.cat([x, y], dim=-1)).squeeze(-1))
    Cancer = ltn.Predicate(func=lambda x: C(x).squeeze(-1))
    ops = ltn.fuzzy_ops
    Not = ltn.Connective(ops.NotStandard())
    And = ltn.Connective(ops.AndProd())
    Implies = ltn.Connective(ops.ImpliesReichenbach())
    Forall = ltn.Quantifier(ops.AggregPMeanError(p=2), quantifier="f")
    Exists = ltn.Quantifier(ops.AggregPMean(p=2), quantifier="e")
    x, y = ltn.Variable("x", emb), ltn.Variable("y", emb)
    people = "abcdefghijklmn"
    const = {n: ltn.Constant(emb[i]) for i, n in enumerate(people)}
    preds = {"Smokes": Smokes, "Friends": Friends, "Cancer": Cancer}

    groups = {}  # the facts as listed in the file
    with open(SMOKERS) as f:
        for line in f:
            if line.startswith(("#", "rule", "query")):
                continue
            for neg, pred, args in re.findall(r"(not )?(\w+)\(([a-n](?:, [a-n])?)\)\.", line):
                atom = preds[pred](*[const[a] for a in args.split(", ")])
                groups.setdefault(f"facts({neg}{pred})", []).append(Not(atom) if neg else atom)
    ref = {
        name: ops.AggregPMeanError(p=2)(torch.stack([a.value for a in atoms]), dim=0)
        for name, atoms in groups.items()
    }
    assert [len(v) for v in groups.values()] == [12, 31, 6, 8, 2, 6]
    ref.update(
        {
            "anti_reflexive": Forall(x, Not(Friends(x, x)), p=5),
            "symmetric": Forall([x, y], Implies(Friends(x, y), Friends(y, x)), p=5),
            "has_friend": Forall(x, Exists(y, Friends(x, y), p=6)),
            "smoking_spreads": Forall([x, y], Implies(And(Friends(x, y), Smokes(x)), Smokes(y))),
            "smoking_causes_cancer": Forall(x, Implies(Smokes(x), Cancer(x))),
            "no_smoking_no_cancer": Forall(x, Implies(Not(Smokes(x)), Not(Cancer(x)))),
        }
    )
    ref = {k: v if isinstance(v, torch.Tensor) else v.value for k, v in ref.items()}
    assert sorted(ref) == sorted(kb.rules)
    for name in kb.rules:
        assert kb.truth(name).dtype == np.float32
        np.testing.assert_allclose(kb.truth(name).item(), ref[name].item(), atol=1e-5, err_msg=name)
    sat_agg = ops.SatAgg(ops.AggregPMeanError(p=2))
    np.testing.assert_allclose(kb.satisfaction().item(), sat_agg(*ref.values()).item(), atol=1e-5)


# --- neural functions ---------------------------------------------------------------------------
FUNCTIONS = """
domain Person = {a, b, c}.
features Person = embedding(4).
domain Place = {home, work}.
features Place = embedding(3).
function whereabouts(Person) -> Place = mlp(hidden = [8]).
function summary(Person) -> 5 = mlp(hidden = [8]).
predicate At(Place) = mlp(hidden = [5]).
rule somewhere: forall x: At(whereabouts(x)).
"""


def test_a_neural_function_feeds_a_neural_predicate_and_both_train():
    nesy.manual_seed(0)
    kb = loads(FUNCTIONS)
    names = {n for n, _ in kb.named_parameters()}
    assert {"models.whereabouts.0.weight", "models.At.0.weight"} <= names
    with nesy.no_grad():
        places = kb.models.whereabouts(kb.embeddings.Person)
        expected = kb.models.At(places).numpy().reshape(-1)
    np.testing.assert_allclose(kb.truth("At(whereabouts(x))").detach().numpy(), expected,
                               rtol=1e-6)
    before = kb.satisfaction().item()
    nesy.train(kb, epochs=20, lr=0.05, progress=False)
    assert kb.satisfaction().item() > before


def test_a_feature_vector_of_the_wrong_size_is_a_clear_error():
    kb = loads(FUNCTIONS)
    with pytest.raises(RuleError) as err:
        kb.truth("forall x: At(summary(x))")
    assert "feature-size mismatch" in err.value.message
    assert "takes 3 features" in err.value.message and "give 5" in err.value.message


def test_binding_a_table_predicate_replaces_its_table():
    kb = loads("domain C = {x, y}.\nfeatures C = embedding(2).\npredicate Big(C).\nBig(x).\n"
               "rule r: forall c: Big(c).\n")
    np.testing.assert_allclose(np_(kb.truth("Big(c)")), [1.0, 0.0])
    kb.bind("Big", lambda f: nesy.full((f.shape[0],), 0.25))
    np.testing.assert_allclose(np_(kb.truth("Big(c)")), [0.25, 0.25])
