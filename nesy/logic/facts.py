"""Facts about a learned predicate as one constraint, evaluated on the listed groundings.

``Friends(a, b). Friends(a, e). ...`` about a neural ``Friends`` is supervision: the model
runs on exactly those argument rows (not on every pair), and the truths are aggregated like
a ``forall``. A negated fact contributes ``not P(...)``; a fact of degree d strictly between
0 and 1 contributes ``P(...) <-> d``.
"""

from __future__ import annotations

import numpy as np

from . import ast


def fact_group_truth(kb, group):
    """Truth of ``group`` (a ``FactGroup``) in ``kb``: a 0-dim Tensor."""
    import nesy

    env = kb._env()
    info = kb.signature.predicates[group.predicate]
    model, classes = kb._model(group.predicate, group.span)
    types = info.arg_types[:-1] if classes else info.arg_types
    n = len(group.facts)
    feats = []
    for j, dtype in enumerate(types):
        rows = [env.const_index(args[j], dtype) for args, _ in group.facts]
        feats.append(kb._features_of(dtype, group.span)[np.asarray(rows)])
    where = ast.Atom(group.predicate, (), group.span)
    out = env._check_output(env.call_model(model, feats, (n,)), where, (n,), classes)
    if classes:
        columns = [env.const_index(args[-1], info.arg_types[-1]) for args, _ in group.facts]
        truth = out.reshape(n, out.shape[-1])[np.arange(n), np.asarray(columns)]
    else:
        truth = out.reshape(n)
    sem = kb.semantics
    degrees = np.asarray([d for _, d in group.facts], dtype=kb.dtype_name)
    if group.negated:
        truth = sem.not_(truth)
    elif (degrees != 1.0).any():
        graded = sem.equiv(truth, nesy.tensor(degrees))
        truth = nesy.where(nesy.tensor(degrees == 1.0), truth, graded)
    return sem.forall(truth, (0,)).reshape(())
