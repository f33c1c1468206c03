"""Products against PyTorch (values and gradients) and finite differences.

``@`` / ``matmul`` with 1-D operands, batches and broadcast batch dims, its reflected form,
``dot`` and ``outer``; ``einsum`` with explicit and implicit outputs, traces and diagonals
(repeated indices), ellipses, and more than two operands.
"""

import numpy as np
import torch
from opcheck import Op, same, table_tests

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (1, 4, 2)),
    ((1, 3, 4), (2, 4, 1)),
    ((1, 1), (1, 1)),
    ((0, 4), (4, 3)),
    ((3, 0), (0, 2)),
    ((2, 0, 4), (4, 3)),
    ((0,), (0,)),
]
NP_MAT = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])

MATMUL = [
    same("matmul_operator", lambda m, a, b: a @ b, MATMUL_SHAPES),
    same("matmul_fn", lambda m, a, b: m.matmul(a, b), MATMUL_SHAPES[:6]),
    same("matmul_method", lambda m, a, b: a.matmul(b), MATMUL_SHAPES[:6]),
    same("mm", lambda m, a, b: a.mm(b), [((3, 4), (4, 5)), ((2, 0), (0, 3))]),
    Op("rmatmul_ndarray", lambda x: NP_MAT.astype(x.dtype) @ x,
       lambda x: torch.tensor(NP_MAT, dtype=x.dtype) @ x,
       [((3, 4),), ((3,),), ((2, 3, 2),)]),
    same("dot", lambda m, a, b: m.dot(a, b), [((4,), (4,)), ((0,), (0,))]),
    same("outer", lambda m, a, b: m.outer(a, b), [((3,), (4,)), ((0,), (2,))]),
]

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk->ik", [(3, 0), (0, 2)]),
    ("ij,jk", [(3, 4), (4, 5)]),  # implicit output: ik
    ("ii->", [(3, 3)]),  # trace
    ("ii", [(3, 3)]),  # implicit trace
    ("ii->i", [(3, 3)]),  # diagonal
    ("bii->bi", [(2, 3, 3)]),
    ("iij->j", [(2, 2, 3)]),
    ("ij->ji", [(3, 4)]),
    ("ji", [(3, 4)]),  # implicit output sorts the labels: a transpose
    ("ij", [(3, 4)]),
    ("ijk->", [(2, 3, 4)]),
    ("ijk->j", [(2, 3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ij,ij->ij", [(3, 1), (3, 4)]),  # size-1 axes broadcast, as in PyTorch
    ("ij,jk->ik", [(3, 1), (4, 2)]),
    ("...i->...", [(2, 3, 4)]),
    ("i...->...", [(2, 3, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("b...,b...->b", [(2, 3), (2, 3)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(4,), (4,)]),
    ("i,i", [(4,), (4,)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,ij,ij->", [(2, 3), (2, 3), (2, 3)]),
    ("i,->i", [(3,), ()]),
    ("ij , jk -> ik", [(3, 4), (4, 5)]),  # spaces
]
EINSUM = [
    same(f"einsum[{eq}]{shapes}", lambda m, *xs, eq=eq: m.einsum(eq, *xs), [tuple(shapes)])
    for eq, shapes in EINSUM_CASES
] + [
    same("einsum_list_operands", lambda m, a, b: m.einsum("ij,jk->ik", [a, b]),
         [((3, 4), (4, 5))]),
    same("einsum_same_operand_twice", lambda m, a: m.einsum("ij,ij->", a, a), [((3, 4),)]),
]

TABLE = MATMUL + EINSUM

test_matches_torch, test_gradcheck = table_tests(TABLE)
