"""The vectorizable float32 sigmoid kernel: against PyTorch, its interpreted twin, the backend."""

import numpy as np
import torch

import nesy
from nesy.tensor import kernels, scalar
from nesy.tensor.backends.cpu import CpuBackend

BACKEND = CpuBackend()
TINY = np.finfo(np.float32).tiny


def _flat():
    return BACKEND._kernel("sigmoid", np.float32)[0]


def _grid():
    """-120..120 densely, every float32 around the point where PyTorch's result drops to 0,
    and the special values."""
    dense = np.linspace(-120, 120, 1_000_001, dtype=np.float32)
    ends = np.float32([-88.7230, -88.7226, -87.34, -87.33]).view(np.int32)
    edges = [np.arange(a, b - 1, -1, dtype=np.int32).view(np.float32)
             for a, b in zip(ends[1::2], ends[::2])]
    special = np.float32([np.inf, -np.inf, np.nan, 0.0, -0.0, -104.0, -103.9, 88.8, 1e-30])
    return np.concatenate([dense, *edges, special])


def _check_against_torch(got, x):
    want = torch.sigmoid(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    normal = ok & (want >= TINY)
    rel = np.abs(got[normal] - want[normal]) / want[normal]
    assert rel.max() <= 4e-7
    denormal = ok & (want < TINY)
    err = np.abs(got[denormal].astype(np.float64) - want[denormal].astype(np.float64))
    assert err.max(initial=0.0) <= 1e-40


def test_kernel_matches_torch_everywhere():
    x = _grid()
    got = np.empty_like(x)
    _flat()(got, x)
    _check_against_torch(got, x)
    assert got[np.isposinf(x)][0] == 1.0 and got[np.isneginf(x)][0] == 0.0
    assert np.all(got[x == 0] == 0.5)


def test_kernel_equals_interpreted_twin():
    x = (np.random.default_rng(0).standard_normal(257) * 30).astype(np.float32)
    flat = _flat()
    got = np.empty_like(x)
    flat(got, x)
    want = np.empty_like(x)
    kernels._instantiate(flat.py_func, "interpreted", f=scalar.sigmoid_f32)(want, x)
    assert want.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-44)


def test_backend_sigmoid_float32_large():
    x = (np.random.default_rng(1).standard_normal(100_000) * 20).astype(np.float32)
    x[:4] = [np.nan, np.inf, -np.inf, -95.0]
    got = nesy.tensor(x).sigmoid().numpy()
    assert got.dtype == np.float32
    _check_against_torch(got, x)
