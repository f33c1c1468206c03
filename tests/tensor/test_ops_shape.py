"""Shape and indexing ops against PyTorch (values and gradients) and finite differences.

reshape, permute, transpose, unsqueeze, squeeze, expand; ``__getitem__`` with ints, slices,
None, Ellipsis, integer arrays (repeated positions must accumulate in backward) and boolean
masks; cat, stack and gather.
"""

import numpy as np
import torch
from opcheck import Op, same, table_tests

import nesy

RESHAPES = [
    ((3, 4), (4, 3)),
    ((2, 6), (-1,)),
    ((2, 3, 4), (6, -1)),
    ((), (1, 1)),
    ((4,), (2, 1, 2)),
    ((0, 3), (3, 0)),
    ((0, 3), (-1,)),
]
SHAPE_OPS = [
    same(f"reshape{s}->{t}", lambda m, x, t=t: x.reshape(t), [(s,)]) for s, t in RESHAPES
] + [
    same("reshape_varargs", lambda m, x: x.reshape(2, -1), [((2, 3),), ((4, 2, 1),)]),
    same("reshape_fn", lambda m, x: m.reshape(x, (-1, 2)), [((2, 3),), ((0, 2),)]),
    same("view", lambda m, x: x.view(3, 4), [((2, 6),), ((12,),)]),
    same("flatten", lambda m, x: x.flatten(), [((),), ((2, 3, 4),), ((2, 0),)]),
    same("flatten_1", lambda m, x: x.flatten(1), [((2, 3, 4),), ((2, 1, 0),)]),
    same("flatten_0_1", lambda m, x: m.flatten(x, 0, 1), [((2, 3, 4),)]),
    same("permute", lambda m, x: x.permute(2, 0, 1), [((2, 3, 4),), ((1, 3, 0),)]),
    same("permute_tuple", lambda m, x: x.permute((1, 0, 2)), [((2, 3, 4),)]),
    same("permute_negative", lambda m, x: m.permute(x, (-1, 0, 1)), [((2, 3, 4),)]),
    same("permute_0d", lambda m, x: x.permute(()), [((),)]),
    same("transpose", lambda m, x: x.transpose(0, 2), [((2, 3, 4),), ((0, 1, 2),)]),
    same("transpose_negative", lambda m, x: m.transpose(x, -1, -2), [((2, 3, 4),), ((3, 4),)]),
    same("t", lambda m, x: x.t(), [((3, 4),), ((4,),), ((0, 2),)]),
    same("T", lambda m, x: x.T, [((3, 4),), ((0, 2),)]),
    same("mT", lambda m, x: x.mT, [((3, 4),), ((2, 3, 4),)]),
    same("unsqueeze_0", lambda m, x: x.unsqueeze(0), [((),), ((3,),), ((2, 3),), ((0, 2),)]),
    same("unsqueeze_-1", lambda m, x: x.unsqueeze(-1), [((),), ((3,),), ((2, 3),)]),
    same("unsqueeze_1", lambda m, x: m.unsqueeze(x, 1), [((3,),), ((2, 3),), ((2, 0),)]),
    same("squeeze", lambda m, x: x.squeeze(), [((1, 3, 1),), ((2, 1),), ((1,),), ((),),
                                               ((0, 1),)]),
    same("squeeze_1", lambda m, x: x.squeeze(1), [((2, 1, 3),), ((2, 3),), ((0, 1),)]),
    same("squeeze_-1", lambda m, x: m.squeeze(x, -1), [((1, 3, 1),), ((3,),), ((1,),)]),
    same("expand", lambda m, x: x.expand(3, 4), [((3, 1),), ((4,),), ((1, 1),), ((),)]),
    same("expand_new_dims", lambda m, x: x.expand(2, 3, 5), [((1,),), ((3, 1),), ((1, 5),)]),
    same("expand_minus_one", lambda m, x: x.expand(2, -1, 4), [((3, 1),), ((1, 1),)]),
    same("expand_empty", lambda m, x: x.expand(0, 4), [((0, 1),), ((1, 4),)]),
    same("expand_as", lambda m, x, y: x.expand_as(y), [((3, 1), (2, 3, 4)), ((), (2,))],
         gradcheck=True),
    same("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3)), [((3,),), ((2, 1),)]),
]


def _arr(m, values, dtype=None):
    return m.tensor(np.asarray(values, dtype=dtype))


INDEX_SHAPES = [((4, 5, 3),)]
MASK_4x5 = np.random.default_rng(3).random((4, 5)) > 0.5
MASK_FULL = np.random.default_rng(4).random((4, 5, 3)) > 0.6
INDEXING = [
    same(f"getitem[{label}]", fn, INDEX_SHAPES)
    for label, fn in [
        ("1", lambda m, x: x[1]),
        ("-1", lambda m, x: x[-1]),
        ("1,2", lambda m, x: x[1, 2]),
        ("1,2,0", lambda m, x: x[1, 2, 0]),
        ("1:3", lambda m, x: x[1:3]),
        ("::2", lambda m, x: x[::2]),
        (":,1:4:2", lambda m, x: x[:, 1:4:2]),
        ("-3:,:-1", lambda m, x: x[-3:, :-1]),
        ("1:1 (empty)", lambda m, x: x[1:1]),
        ("None", lambda m, x: x[None]),
        ("...,0", lambda m, x: x[..., 0]),
        (":,None,1:", lambda m, x: x[:, None, 1:]),
        ("1,...,None", lambda m, x: x[1, ..., None]),
        ("...", lambda m, x: x[...]),
        ("int array with repeats", lambda m, x: x[_arr(m, [0, 0, 2, 0])]),
        ("int array 2-d", lambda m, x: x[_arr(m, [[1, 1], [3, 1]])]),
        ("negative int array", lambda m, x: x[_arr(m, [-1, 0, -1])]),
        ("empty int array", lambda m, x: x[_arr(m, [], np.int64)]),
        ("0-dim int tensor", lambda m, x: x[m.tensor(2)]),
        (":,int array", lambda m, x: x[:, _arr(m, [1, 1, 4])]),
        ("arrays broadcast", lambda m, x: x[_arr(m, [0, 0, 3]), :, _arr(m, [2, 2, 2])]),
        ("arrays + slice", lambda m, x: x[_arr(m, [[0], [3]]), 1:3, _arr(m, [1, 1])]),
        ("bool mask full", lambda m, x: x[_arr(m, MASK_FULL)]),
        ("bool mask leading", lambda m, x: x[_arr(m, MASK_4x5)]),
        ("bool mask rows", lambda m, x: x[_arr(m, [True, False, True, True])]),
        ("bool mask none", lambda m, x: x[_arr(m, np.zeros(4, bool))]),
        (":,bool mask", lambda m, x: x[:, _arr(m, [False, True, True, False, True])]),
    ]
] + [
    # plain Python lists and numpy arrays as indices (PyTorch only takes its own tensors there)
    Op("getitem[list with repeats]", lambda x: x[[3, 0, 3, 1]],
       lambda x: x[torch.tensor([3, 0, 3, 1])], INDEX_SHAPES),
    Op("getitem[ndarray with repeats]", lambda x: x[np.array([2, 2, 2])],
       lambda x: x[torch.tensor([2, 2, 2])], INDEX_SHAPES),
    Op("getitem[ndarray mask]", lambda x: x[MASK_4x5], lambda x: x[torch.tensor(MASK_4x5)],
       INDEX_SHAPES),
    same("getitem[0-dim tensor, ...]", lambda m, x: x[...], [((),)]),
    same("getitem[0-dim tensor, None]", lambda m, x: x[None], [((),)]),
    same("getitem[empty tensor slice]", lambda m, x: x[:, 1:], [((0, 3),)]),
]

JOIN = [
    same("cat_dim0", lambda m, a, b: m.cat([a, b]), [((2, 3), (4, 3)), ((2, 3), (0, 3)),
                                                     ((1,), (3,))]),
    same("cat_dim1", lambda m, a, b: m.cat([a, b], dim=1), [((2, 3), (2, 1)), ((2, 0), (2, 2))]),
    same("cat_dim-1", lambda m, a, b: m.cat((a, b), -1), [((2, 2, 3), (2, 2, 1))]),
    same("cat_three", lambda m, a, b, c: m.cat([a, b, c], 1), [((2, 1), (2, 3), (2, 2))]),
    same("cat_same_tensor", lambda m, a: m.cat([a, a * 2, a], 0), [((2, 3),)]),
    same("stack_dim0", lambda m, a, b: m.stack([a, b]), [((2, 3), (2, 3)), ((), ()),
                                                         ((0, 3), (0, 3))]),
    same("stack_dim1", lambda m, a, b: m.stack([a, b], 1), [((2, 3), (2, 3))]),
    same("stack_dim-1", lambda m, a, b, c: m.stack((a, b, c), dim=-1), [((2, 3),) * 3,
                                                                        ((4,),) * 3]),
]

# index arrays with repeated positions (their gradients must add up)
GATHER_1 = np.array([[0, 0], [3, 1], [2, 2]])
GATHER_0 = np.array([[2, 0, 1, 2], [2, 2, 0, 1]])
GATHER_3D = np.array([[[1, 0, 1]], [[0, 0, 0]]])
GATHER = [
    same("gather_dim1", lambda m, x: m.gather(x, 1, _arr(m, GATHER_1)), [((3, 4),)]),
    same("gather_dim0", lambda m, x: x.gather(0, _arr(m, GATHER_0)), [((3, 4),)]),
    same("gather_smaller_index", lambda m, x: m.gather(x, 1, _arr(m, GATHER_1[:2])),
         [((3, 4),)]),
    same("gather_3d_dim-1", lambda m, x: m.gather(x, -1, _arr(m, GATHER_3D)), [((2, 3, 2),)]),
    same("gather_empty_index", lambda m, x: m.gather(x, 1, _arr(m, np.zeros((3, 0), int))),
         [((3, 4),)]),
]

TABLE = SHAPE_OPS + INDEXING + JOIN + GATHER

test_matches_torch, test_gradcheck = table_tests(TABLE)


def test_repeated_index_accumulates_by_hand():
    x = nesy.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_gather_repeated_index_accumulates_by_hand():
    x = nesy.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    nesy.gather(x, 1, nesy.tensor([[1, 1, 1], [0, 1, 0]])).sum().backward()
    assert x.grad.tolist() == [[0.0, 3.0], [2.0, 1.0]]
