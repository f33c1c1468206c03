"""The LTNtorch side of ``bench_logic.py``: each problem as an LTNtorch user writes it.

Everything uses LTN's default "stable product" configuration (``stable_product()``). Tables
given as data (Friends, R) are predicates that look entries up by index: the variables that
feed them hold the indices 0..N-1 (``add_batch_dim=False``, LTN's documented idiom for index
variables) and share their labels with the feature variables, so that LTN treats them as the
same logical variable. The Smokers-Friends-Cancer knowledge base follows LTNtorch's own
example (``examples/7-learning_embeddings_with_LTN.ipynb``), with the sizes of the LTN paper.

    >>> import torch
    >>> table = torch.rand(4, 4, requires_grad=True)
    >>> sat = transitivity(table)()
    >>> 0 < sat.item() < 1
    True
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import ltn
import torch


def stable_product():
    """LTN's defaults: NotStandard, AndProd, OrProbSum, ImpliesReichenbach (all stable),
    Forall = AggregPMeanError(p=2), Exists = AggregPMean(p=2), SatAgg over pMeanError(p=2)."""
    ops = ltn.fuzzy_ops
    return SimpleNamespace(
        Not=ltn.Connective(ops.NotStandard()),
        And=ltn.Connective(ops.AndProd()),
        Or=ltn.Connective(ops.OrProbSum()),
        Implies=ltn.Connective(ops.ImpliesReichenbach()),
        Forall=ltn.Quantifier(ops.AggregPMeanError(p=2), quantifier="f"),
        Exists=ltn.Quantifier(ops.AggregPMean(p=2), quantifier="e"),
        SatAgg=ops.SatAgg(),
    )


def mlp(sizes):
    """``Linear, ELU, ..., Linear, Sigmoid`` as a Sequential (state_dict keys "0.weight", ...)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        layers.append(torch.nn.ELU() if i < len(sizes) - 2 else torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


class PairMLP(torch.nn.Module):
    """An MLP over its arguments concatenated feature-wise (a binary predicate's model)."""

    def __init__(self, sizes):
        super().__init__()
        self.net = mlp(sizes)

    def forward(self, *xs):
        return self.net(torch.cat(xs, dim=1))


def index_variable(label, n):
    return ltn.Variable(label, torch.arange(n), add_batch_dim=False)


def table_predicate(table):
    """A predicate whose truth values are the entries of ``table``, looked up by index."""
    return ltn.Predicate(func=lambda *idx: table[idx])


def friends_smokes(feats, friends, smokes_model):
    """``forall x, y: (Friends(x, y) and Smokes(x)) -> Smokes(y)``; returns the formula's
    forward pass as a function of no arguments (a 0-dim tensor)."""
    op = stable_product()
    n = feats.shape[0]
    x, y = ltn.Variable("x", feats), ltn.Variable("y", feats)
    xi, yi = index_variable("x", n), index_variable("y", n)  # same labels: same variables
    smokes, friends_p = ltn.Predicate(smokes_model), table_predicate(friends)

    def forward():
        body = op.Implies(op.And(friends_p(xi, yi), smokes(x)), smokes(y))
        return op.Forall([x, y], body).value

    return forward


def transitivity(table):
    """``forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)`` over the N x N table ``R``."""
    op = stable_product()
    n = table.shape[0]
    x, y, z = (index_variable(v, n) for v in "xyz")
    r = table_predicate(table)

    def forward():
        return op.Forall([x, y, z], op.Implies(op.And(r(x, y), r(y, z)), r(x, z))).value

    return forward


# --- Smokers, Friends and Cancer (the LTN paper's example) ---------------------------------
PEOPLE_G1, PEOPLE_G2 = "abcdefgh", "ijklmn"
FRIENDS = [("a", "b"), ("a", "e"), ("a", "f"), ("a", "g"), ("b", "c"), ("c", "d"), ("e", "f"),
           ("g", "h"), ("i", "j"), ("j", "m"), ("k", "l"), ("m", "n")]
SMOKES = ["a", "e", "f", "g", "j", "n"]
CANCER = ["a", "e"]
EMBEDDING = 10
AXIOMS = ("facts(Friends)", "facts(not Friends)", "facts(Smokes)", "facts(not Smokes)",
          "facts(Cancer)", "facts(not Cancer)", "anti_reflexive", "symmetric", "has_friend",
          "smoking_spreads", "smoking_causes_cancer", "no_smoking_no_cancer")


class SmokersKB:
    """Embeddings (uniform [0, 1)) of the 14 people and the three predicate MLPs."""

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.g = {p: ltn.Constant(torch.rand(EMBEDDING), trainable=True)
                  for p in PEOPLE_G1 + PEOPLE_G2}
        self.cancer = ltn.Predicate(mlp([EMBEDDING, 16, 16, 1]))
        self.smokes = ltn.Predicate(mlp([EMBEDDING, 16, 16, 1]))
        self.friends = ltn.Predicate(PairMLP([2 * EMBEDDING, 16, 16, 1]))
        self.op = stable_product()

    def parameters(self):
        preds = (self.smokes, self.friends, self.cancer)
        return [p for pred in preds for p in pred.parameters()] + [c.value for c in
                                                                     self.g.values()]

    def axioms(self):
        """The 12 closed formulas' truth values, in ``AXIOMS`` order."""
        op, g, F, S, C = self.op, self.g, self.friends, self.smokes, self.cancer
        x = ltn.Variable("x", torch.stack([c.value for c in g.values()]))
        y = ltn.Variable("y", torch.stack([c.value for c in g.values()]))

        def facts(formulas):  # a set of ground facts, aggregated like LTN's example does
            return ltn.LTNObject(op.SatAgg(*formulas), [])

        not_friends = [(u, v) for grp in (PEOPLE_G1, PEOPLE_G2) for u in grp for v in grp
                       if u < v and (u, v) not in FRIENDS]
        return [
            facts([F(g[u], g[v]) for u, v in FRIENDS]),
            facts([op.Not(F(g[u], g[v])) for u, v in not_friends]),
            facts([S(g[u]) for u in SMOKES]),
            facts([op.Not(S(g[u])) for u in g if u not in SMOKES]),
            facts([C(g[u]) for u in CANCER]),
            facts([op.Not(C(g[u])) for u in PEOPLE_G1 if u not in CANCER]),
            op.Forall(x, op.Not(F(x, x)), p=5),
            op.Forall([x, y], op.Implies(F(x, y), F(y, x)), p=5),
            op.Forall(x, op.Exists(y, F(x, y), p=6)),
            op.Forall([x, y], op.Implies(op.And(F(x, y), S(x)), S(y))),
            op.Forall(x, op.Implies(S(x), C(x))),
            op.Forall(x, op.Implies(op.Not(S(x)), op.Not(C(x)))),
        ]

    def satisfaction(self):
        return self.op.SatAgg(*self.axioms())


def smokers_train(epochs=1000, lr=0.001, seed=0):
    """Train the KB with Adam; wall time of the loop, final satisfaction and axiom truths."""
    kb = SmokersKB(seed)
    opt = torch.optim.Adam(kb.parameters(), lr=lr)
    t0 = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        loss = 1.0 - kb.satisfaction()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        axioms = kb.axioms()
        sat = kb.op.SatAgg(*axioms).item()
    return {"time_s": seconds, "sat": sat,
            "axioms": [[name, a.value.item()] for name, a in zip(AXIOMS, axioms)]}
