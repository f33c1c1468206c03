"""Tests for nesy.logic.semantics: laws, agreement with LTNtorch, gradients, registry, presets."""

import numpy as np
import pytest

import nesy
from nesy.logic.semantics import (
    EPS,
    KINDS,
    PRESETS,
    Semantics,
    check_operator,
    operator,
    operator_names,
    pi_0,
    pi_1,
    register_operator,
    unregister_operator,
)

REGISTERED = [(kind, name) for kind in KINDS for name in operator_names(kind)]
BINARY = [(k, n) for k, n in REGISTERED if k in ("and", "or", "implies")]
AGGREGATORS = operator_names("aggregator")
# LTNtorch's class for each built-in connective, and whether it has a stable variant
LTN_CONNECTIVES = {
    ("not", "standard"): ("NotStandard", False),
    ("and", "min"): ("AndMin", False),
    ("and", "prod"): ("AndProd", True),
    ("and", "luk"): ("AndLuk", False),
    ("or", "max"): ("OrMax", False),
    ("or", "probsum"): ("OrProbSum", True),
    ("or", "luk"): ("OrLuk", False),
    ("implies", "kleene_dienes"): ("ImpliesKleeneDienes", False),
    ("implies", "godel"): ("ImpliesGodel", False),
    ("implies", "reichenbach"): ("ImpliesReichenbach", True),
    ("implies", "goguen"): ("ImpliesGoguen", True),
    ("implies", "luk"): ("ImpliesLuk", False),
}
LTN_AGGREGATORS = {"min": "AggregMin", "mean": "AggregMean", "pmean": "AggregPMean",
                   "pmean_error": "AggregPMeanError"}  # max: LTNtorch has none


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def ltn(torch):
    return pytest.importorskip("ltn")


def leaf(a, dtype=nesy.float64):
    return nesy.tensor(np.asarray(a), dtype=dtype, requires_grad=True)


def ltn_connective(ltn, kind, name, stable):
    cls, has_flag = LTN_CONNECTIVES[(kind, name)]
    op = getattr(ltn.fuzzy_ops, cls)
    return op(stable=stable) if has_flag else op()


def ltn_aggregate(torch, ltn, name, xs, dims, p, stable, mask=None):
    """LTNtorch's aggregation of the full-shape ``xs``; max written out, symmetric to min."""
    if name == "max":
        kept = xs if mask is None else torch.where(mask, xs, 0.0)
        return torch.amax(kept, dim=dims, keepdim=True)
    cls = getattr(ltn.fuzzy_ops, LTN_AGGREGATORS[name])
    op = cls(p=p, stable=stable) if name.startswith("pmean") else cls()
    return op(xs, dim=dims, keepdim=True, mask=mask)


def assert_matches_torch(torch, ours, theirs, arrays):
    """Values and gradients (of a random weighted sum) agree to rtol 1e-10, in float64."""
    xs = [leaf(a) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    assert np.isfinite(out.detach().numpy()).all()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    seed = np.random.default_rng(7).random(tuple(ref.shape))
    (out * nesy.tensor(seed, dtype=nesy.float64)).sum().backward()
    (ref * torch.tensor(seed)).sum().backward()
    for x, t in zip(xs, ts):  # no gradient at all (Goedel's I in x) counts as zero
        ours_grad = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
        assert np.isfinite(ours_grad).all()
        their_grad = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(ours_grad, their_grad, rtol=1e-10, atol=1e-12)


# --- laws --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, name", REGISTERED)
def test_registered_operator_obeys_its_laws(kind, name):
    check_operator(kind, operator(kind, name), name)


def test_stability_projections():
    x = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(pi_0(x), (1 - 1e-4) * x + 1e-4)
    np.testing.assert_allclose(pi_1(x), (1 - 1e-4) * x)
    assert EPS == 1e-4


# --- agreement with LTNtorch -------------------------------------------------------------------
@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("kind, name", list(LTN_CONNECTIVES))
def test_connective_matches_ltn(torch, ltn, kind, name, stable):
    rng = np.random.default_rng(0)
    ref = ltn_connective(ltn, kind, name, stable)
    ours = operator(kind, name)
    if kind == "not":
        assert_matches_torch(torch, lambda x: ours(x, stable=stable), ref, [rng.random((4, 5))])
    else:
        x, y = rng.random((2, 4, 5))
        assert_matches_torch(torch, lambda a, b: ours(a, b, stable=stable), ref, [x, y])


@pytest.mark.parametrize("kind, name", [k for k in LTN_CONNECTIVES if k[0] != "not"])
def test_connective_broadcasts_like_expanded_ltn(torch, ltn, kind, name):
    rng = np.random.default_rng(1)
    ref = ltn_connective(ltn, kind, name, True)
    x, y = rng.random((4, 1)), rng.random((1, 5))
    assert_matches_torch(torch, lambda a, b: operator(kind, name)(a, b),
                         lambda a, b: ref(a.expand(4, 5), b.expand(4, 5)), [x, y])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_equiv_matches_ltn(torch, ltn, preset):
    s = PRESETS[preset]
    ref = ltn.fuzzy_ops.Equiv(ltn_connective(ltn, "and", s.and_op, s.stable),
                              ltn_connective(ltn, "implies", s.implies_op, s.stable))
    x, y = np.random.default_rng(2).random((2, 6))
    assert_matches_torch(torch, s.equiv, ref, [x, y])


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("dims", [(0,), (1,), (2,), (0, 2), (0, 1, 2)])
@pytest.mark.parametrize("name", AGGREGATORS)
def test_aggregator_matches_ltn(torch, ltn, name, dims, stable):
    xs = np.random.default_rng(3).random((3, 4, 5))
    assert_matches_torch(torch, lambda x: operator("aggregator", name)(x, dims, 2.0, None, stable),
                         lambda x: ltn_aggregate(torch, ltn, name, x, dims, 2.0, stable), [xs])


@pytest.mark.parametrize("p", [0.5, 1.0, 3.5])
@pytest.mark.parametrize("name", ["pmean", "pmean_error"])
def test_pmean_matches_ltn_for_other_p(torch, ltn, name, p):
    xs = np.random.default_rng(4).random((3, 6))
    assert_matches_torch(torch, lambda x: operator("aggregator", name)(x, (1,), p=p),
                         lambda x: ltn_aggregate(torch, ltn, name, x, (1,), p, True), [xs])


QUANTIFIED = [("forall", n) for n in ("min", "mean", "pmean", "pmean_error")] + [
    ("exists", n) for n in ("max", "mean", "pmean", "pmean_error")]
SHAPES = [((3, 4, 5), (3, 4, 5)), ((3, 1, 5), (1, 4, 5)), ((3, 4, 5), (3, 1, 1)),
          ((1, 4, 1), (3, 4, 5)), ((4, 5), (3, 4, 5))]


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("dims", [(1,), (0, 2)])
@pytest.mark.parametrize("xs_shape, mask_shape", SHAPES)
@pytest.mark.parametrize("quantifier, name", QUANTIFIED)
def test_masked_quantifier_matches_ltn(torch, ltn, quantifier, name, xs_shape, mask_shape,
                                       dims, stable):
    rng = np.random.default_rng(5)
    mask = rng.random(mask_shape) < 0.3  # some groundings end up with an empty guard
    full = np.broadcast_shapes(xs_shape, mask_shape)
    s = Semantics(forall_op=name, exists_op=name, p_forall=3.0, p_exists=3.0, stable=stable)
    vacuous = 1.0 if quantifier == "forall" else 0.0

    def reference(x):  # LTNtorch's Quantifier: the aggregation's NaN becomes the vacuous truth
        m = torch.tensor(np.broadcast_to(mask, full).copy())
        out = ltn_aggregate(torch, ltn, name, x.expand(full), dims, 3.0, stable, mask=m)
        return torch.where(torch.isnan(out), vacuous, out)

    assert_matches_torch(torch, lambda x: getattr(s, quantifier)(x, dims, mask=mask),
                         reference, [rng.random(xs_shape)])


@pytest.mark.parametrize("name", ["prod", "luk"])
def test_unit_weight_aggregate_is_ltn_satagg(torch, ltn, name):
    s = Semantics.resolve({"and": name})
    values = np.random.default_rng(6).random(5)
    sat_agg = ltn.fuzzy_ops.SatAgg()
    assert_matches_torch(torch, lambda v: s.aggregate(v, weights=np.ones(5)),
                         lambda v: sat_agg(*v), [values])
    assert_matches_torch(torch, s.aggregate, lambda v: sat_agg(*v), [values])


# --- finite-difference gradients ---------------------------------------------------------------
def interior_pairs(n=6, gap=0.05):
    """Points away from the kinks x = y and x + y = 1 of min, max, Goedel and Lukasiewicz."""
    x, y = np.random.default_rng(8).uniform(0.02, 0.98, (2, 400))
    ok = (np.abs(x - y) > gap) & (np.abs(x + y - 1) > gap)
    return x[ok][:n], y[ok][:n]


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("kind, name", BINARY)
def test_binary_operator_gradcheck(kind, name, stable):
    x, y = interior_pairs()
    assert nesy.gradcheck(lambda a, b: operator(kind, name)(a, b, stable=stable),
                          leaf(x), leaf(y))


def test_goguen_unused_branch_leaks_no_nan_at_zero():
    x, y = leaf([0.0, 0.0, 0.5]), leaf([0.0, 0.3, 0.25])
    out = operator("implies", "goguen")(x, y, stable=False)
    out.sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), [1.0, 1.0, 0.5])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 2.0])


@pytest.mark.parametrize("name", operator_names("not"))
def test_not_operator_gradcheck(name):
    assert nesy.gradcheck(lambda a: operator("not", name)(a), leaf(interior_pairs()[0]))


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("dims", [(1,), (0, 1)])
@pytest.mark.parametrize("name", AGGREGATORS)
def test_aggregator_gradcheck(name, dims, stable):
    xs = np.random.default_rng(9).permutation(np.linspace(0.05, 0.95, 12)).reshape(3, 4)
    fn = operator("aggregator", name)
    assert nesy.gradcheck(lambda x: fn(x, dims, p=2.5, stable=stable), leaf(xs))


@pytest.mark.parametrize("quantifier", ["forall", "exists"])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_masked_quantifier_gradcheck(preset, quantifier):
    xs = np.random.default_rng(10).permutation(np.linspace(0.05, 0.95, 12)).reshape(3, 4)
    mask = np.array([[True, False, True, True], [False] * 4, [False, True, False, False]])
    fn = getattr(PRESETS[preset], quantifier)
    assert nesy.gradcheck(lambda x: fn(x, (1,), mask=mask), leaf(xs))


def test_weighted_aggregate_gradcheck():
    values = np.array([0.9, 0.2, 0.6, 0.4])
    assert nesy.gradcheck(lambda v: PRESETS["product"].aggregate(v, [1.0, 3.0, 0.5, 0.0]),
                          leaf(values))


# --- registry ----------------------------------------------------------------------------------
def hamacher(x, y, stable=True):
    """Hamacher product: T(x, y) = x y / (x + y - x y), T(0, 0) = 0."""
    den = x + y - x * y
    return x * y / nesy.where(den == 0, 1.0, den)


@pytest.fixture
def registered():
    """Register operators for one test and remove them afterwards."""
    added = set()

    def add(kind, name, fn, check=True):
        register_operator(kind, name, fn, check)
        added.add((kind, name))

    yield add
    for kind, name in added:
        unregister_operator(kind, name)


@pytest.mark.parametrize("kind, fn, law", [
    ("and", lambda x, y, stable=True: x + y, "range [0, 1]"),
    ("and", lambda x, y, stable=True: x * y * (1.0 + 3.0 * (1.0 - x) * (1.0 - y)),
     "nondecreasing in x"),
    ("and", lambda x, y, stable=True: x * (0.5 + 0.5 * y), "T(x, 0) = 0"),
    ("or", lambda x, y, stable=True: nesy.maximum(x, y) * 0.5 + nesy.maximum(x, y * 0.5) * 0.5,
     "S(x, 1) = 1"),
    ("implies", lambda x, y, stable=True: 1.0 - x + x * y * y, "I(1, y) = y"),
    ("not", lambda x, stable=True: x, "N(0) = 1"),
    ("aggregator", lambda xs, dims, p=2.0, mask=None, stable=True: xs.mean(dims, keepdim=True),
     "masked-out entries are ignored"),
])
def test_register_rejects_a_bad_operator(kind, fn, law):
    with pytest.raises(ValueError, match="'bad'") as info:
        register_operator(kind, "bad", fn)
    assert f"law '{law}'" in str(info.value)
    assert "bad" not in operator_names(kind)


def test_register_rejects_an_operator_without_the_stable_flag():
    with pytest.raises(ValueError, match="unexpected keyword argument 'stable'"):
        register_operator("and", "bad", lambda x, y: x * y)


def test_register_accepts_hamacher_and_resolve_uses_it(registered):
    registered("and", "hamacher", hamacher)
    assert "hamacher" in operator_names("and")
    s = Semantics.resolve({"and": "hamacher"})
    x, y = np.array([0.3, 0.8, 0.0]), np.array([0.6, 0.5, 0.0])
    expected = np.divide(x * y, x + y - x * y, out=np.zeros(3), where=x + y > 0)
    np.testing.assert_allclose(s.and_(leaf(x), leaf(y)).detach().numpy(), expected)
    assert s.name == "custom" and s.to_dict()["and"] == "hamacher"


def test_register_again_replaces_but_builtins_stay(registered):
    registered("and", "hamacher", hamacher)
    registered("and", "hamacher", lambda x, y, stable=True: hamacher(x, y))  # a rerun cell
    with pytest.raises(ValueError, match="'prod' is a built-in and operator"):
        register_operator("and", "prod", hamacher)
    with pytest.raises(ValueError, match="cannot be removed"):
        unregister_operator("and", "prod")


def test_unknown_operator_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown and operator 'nand'; known: luk, min, prod"):
        operator("and", "nand")
    with pytest.raises(ValueError, match="unknown operator kind 'xor'; known kinds: not, and"):
        operator_names("xor")
    assert operator_names("implies") == sorted(operator_names("implies"))


# --- presets and resolve -------------------------------------------------------------------------
@pytest.mark.parametrize("preset, expected", [
    ("product", ("standard", "prod", "probsum", "reichenbach", "pmean_error", "pmean", 2.0,
                 2.0, True)),
    ("godel", ("standard", "min", "max", "godel", "min", "max")),
    ("lukasiewicz", ("standard", "luk", "luk", "luk", "mean", "max")),
])
def test_presets(preset, expected):
    s = Semantics.resolve(preset)
    keys = ("not", "and", "or", "implies", "forall", "exists", "p_forall", "p_exists", "stable")
    assert tuple(s.to_dict()[k] for k in keys[: len(expected)]) == expected
    assert s is PRESETS[preset] and s.name == preset and f"name={preset!r}" in repr(s)


def test_resolve_forms():
    assert Semantics.resolve(None) == PRESETS["product"]
    s = Semantics.resolve({"preset": "godel", "implies": "goguen", "stable": False})
    assert (s.and_op, s.implies_op, s.stable, s.name) == ("min", "goguen", False, "custom")
    assert Semantics.resolve(s) is s
    assert Semantics.resolve(s.to_dict()) == s
    assert Semantics.resolve({"p_forall": 4}).p_forall == 4.0
    assert Semantics.resolve({"exists": "max"}).forall_op == "pmean_error"


@pytest.mark.parametrize("spec, message", [
    ({"andd": "min"}, "unknown semantics key 'andd'; valid keys: not, and, or, implies, forall"),
    ({"and": "nand"}, "unknown 'and' operator 'nand'; known and operators: luk, min, prod"),
    ({"forall": "prod"}, "unknown 'forall' operator 'prod'; known aggregator operators: max,"),
    ("fancy", "unknown semantics preset 'fancy'; known presets: certainty, godel, lukasiewicz, "
              "product"),
    ({"preset": "fancy"}, "unknown semantics preset 'fancy'"),
    ({"p_forall": 0}, "'p_forall' must be a finite number > 0, got 0"),
    ({"p_exists": -2.0}, "'p_exists' must be a finite number > 0, got -2.0"),
    ({"p_exists": "2"}, "'p_exists' must be a finite number > 0, got '2'"),
    ({"stable": "yes"}, "'stable' must be true or false, got 'yes'"),
    (3, "semantics must be a preset name"),
])
def test_resolve_errors(spec, message):
    with pytest.raises(ValueError) as info:
        Semantics.resolve(spec)
    assert message in str(info.value)


def test_quantifier_rejects_bad_p():
    with pytest.raises(ValueError, match="'p' must be a finite number > 0"):
        PRESETS["product"].forall(leaf([[0.5]]), (1,), p=0)


# --- masks, broadcasting, dtypes ---------------------------------------------------------------
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_empty_mask_gives_vacuous_truth_with_finite_gradients(preset):
    x = leaf([[0.0, 1.0, 0.5], [0.0, 1.0, 0.5]])
    mask = np.array([[False] * 3, [True, False, True]])
    s = PRESETS[preset]
    fa, ex = s.forall(x, (1,), mask=mask), s.exists(x, (1,), mask=mask)
    assert fa.detach().numpy()[0, 0] == 1.0 and ex.detach().numpy()[0, 0] == 0.0
    (fa.sum() + ex.sum()).backward()
    assert np.isfinite(x.grad.numpy()).all() and (x.grad.numpy()[0] == 0).all()


@pytest.mark.parametrize("name", ["pmean", "pmean_error"])
def test_small_p_unstable_masked_gradients_are_finite(name):
    x = leaf([[0.0, 1.0, 0.3], [0.0, 1.0, 0.7]])
    s = Semantics(forall_op=name, exists_op=name, p_forall=0.5, p_exists=0.5, stable=False)
    mask = np.array([[False, False, True], [False] * 3])
    (s.forall(x, (1,), mask=mask).sum() + s.exists(x, (1,), mask=mask).sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("name, at", [("pmean", 0.0), ("pmean_error", 1.0)])
def test_unstable_pmean_at_its_kink_has_zero_gradient(name, at):
    x = leaf(np.full((2, 3), at))  # LTNtorch gives NaN here: the root's slope is infinite
    operator("aggregator", name)(x, (1,), stable=False).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_forall_and_exists_of_nothing_for_any_aggregator():
    s = Semantics(forall_op="max", exists_op="min")
    x, mask = leaf([[0.3, 0.6]]), np.zeros((1, 2), bool)
    assert s.forall(x, (1,), mask=mask).item() == 1.0
    assert s.exists(x, (1,), mask=mask).item() == 0.0


@pytest.mark.parametrize("name", AGGREGATORS)
def test_size_one_axis_is_a_constant(name):
    xs = np.array([[0.2], [0.7], [1.0]])
    fn = operator("aggregator", name)
    np.testing.assert_allclose(fn(leaf(xs), (1,), stable=False).detach().numpy(), xs)
    mask = np.array([[True], [False], [True]])  # a mask that does not expand the axis
    out = fn(leaf(xs), (1,), mask=mask, stable=False).detach().numpy()
    np.testing.assert_allclose(out[mask], xs[mask])


def test_mask_broadcasting_counts_the_broadcast_groundings():
    xs = np.array([[0.2, 0.4, 0.9], [0.1, 0.5, 0.6]])
    s = PRESETS["lukasiewicz"]  # forall = mean
    full = s.forall(leaf(xs), (1,), mask=np.array([[True], [False]])).detach().numpy()
    np.testing.assert_allclose(full, [[0.5], [1.0]])
    col = s.forall(leaf(xs), (0, 1), mask=np.array([True, False, True])).detach().numpy()
    np.testing.assert_allclose(col, [[(0.2 + 0.9 + 0.1 + 0.6) / 4]])
    spread = s.forall(leaf(xs[:, :1]), (1,), mask=np.array([[True, False, True]]))
    np.testing.assert_allclose(spread.detach().numpy(), xs[:, :1])


def test_mask_must_be_boolean_and_broadcastable():
    s, x = PRESETS["product"], leaf([[0.5, 0.5]])
    with pytest.raises(ValueError, match="must be boolean"):
        s.forall(x, (1,), mask=np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"shape \(3,\) does not broadcast"):
        s.forall(x, (1,), mask=np.ones(3, bool))


@pytest.mark.parametrize("kind, name", REGISTERED)
def test_operators_keep_float32(kind, name):
    x = nesy.tensor(np.full((2, 3), 0.4, np.float32))
    fn = operator(kind, name)
    out = fn(x) if kind == "not" else fn(x, (1,)) if kind == "aggregator" else fn(x, x)
    assert out.dtype == np.float32


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_quantifiers_keep_float32_with_numpy_masks(preset):
    s = PRESETS[preset]
    x = nesy.tensor(np.random.default_rng(11).random((3, 4), dtype=np.float32))
    mask = np.array([[True], [False], [True]])
    assert s.forall(x, (1,), mask=mask).dtype == np.float32
    assert s.exists(x, (0, 1), mask=nesy.tensor(mask)).dtype == np.float32
    assert s.aggregate(x[:, 0], weights=np.array([1.0, 2.0, 0.0])).dtype == np.float32


# --- weighted aggregate ------------------------------------------------------------------------
VALUES = np.array([0.9, 0.4, 0.6, 0.1])
WEIGHTS = np.array([1.0, 3.0, 0.5, 0.0])


def test_weighted_aggregate_product():
    errors = 1 - (1 - 1e-4) * VALUES
    expected = 1 - np.sqrt(np.sum(WEIGHTS * errors**2) / np.sum(WEIGHTS))
    out = PRESETS["product"].aggregate(leaf(VALUES), WEIGHTS)
    assert out.shape == () and out.item() == pytest.approx(expected, rel=1e-12)


def test_weighted_aggregate_lukasiewicz_and_godel():
    luk = PRESETS["lukasiewicz"].aggregate(leaf(VALUES), nesy.tensor(WEIGHTS))
    assert luk.item() == pytest.approx(np.sum(WEIGHTS * VALUES) / np.sum(WEIGHTS), rel=1e-12)
    assert PRESETS["godel"].aggregate(leaf(VALUES), WEIGHTS).item() == 0.4  # 0.1 has weight 0
    assert PRESETS["godel"].aggregate(leaf(VALUES)).item() == 0.1


def test_aggregate_edge_cases():
    s = PRESETS["product"]
    assert s.aggregate(leaf(VALUES), np.zeros(4)).item() == 1.0
    with pytest.raises(ValueError, match="non-negative"):
        s.aggregate(leaf(VALUES), [1.0, -1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="1-D"):
        s.aggregate(leaf([[0.5]]))
    parts = [leaf(v) for v in VALUES]
    assert s.aggregate(parts).item() == pytest.approx(s.aggregate(leaf(VALUES)).item())
