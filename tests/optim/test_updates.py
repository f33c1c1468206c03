"""N optimizer steps on the same parameters and gradients in nesy and torch agree.

Both update paths are checked: NumPy (``fused=False``) and the fused Numba kernel
(``fused=True``), plus the automatic choice for a parameter above the size threshold.
"""

import numpy as np
import pytest
import torch

import nesy
from nesy.optim import kernels

STEPS = 8
SHAPES = [(7, 5), (5,), ()]

SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.5),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, momentum=0.5, maximize=True),
]
ADAM_CONFIGS = [
    dict(lr=0.01),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, weight_decay=0.1, amsgrad=True),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, maximize=True),
]
ADAMW_CONFIGS = [
    dict(lr=0.01),
    dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    dict(lr=0.05, betas=(0.5, 0.9), weight_decay=0.5),
]
CASES = (
    [("SGD", c) for c in SGD_CONFIGS]
    + [("Adam", c) for c in ADAM_CONFIGS]
    + [("AdamW", c) for c in ADAMW_CONFIGS]
)


def run_both(name, config, shapes, dtype, fused, steps=STEPS, seed=0):
    """Run ``steps`` updates with identical gradients; return (nesy params, torch params)."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [nesy.nn.Parameter(nesy.tensor(a.copy())) for a in start]
    theirs = [torch.nn.Parameter(torch.tensor(a.copy())) for a in start]
    opt = getattr(nesy.optim, name)(ours, fused=fused, **config)
    topt = getattr(torch.optim, name)(theirs, **config)
    for _ in range(steps):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad, q.grad = nesy.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    return ours, theirs


def assert_params_close(ours, theirs, dtype):
    rtol, atol = (1e-5, 1e-5) if dtype == np.float32 else (1e-12, 1e-12)
    for p, q in zip(ours, theirs):
        assert p.dtype == dtype
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("fused", [False, True], ids=["numpy", "kernel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,config", CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_matches_torch(name, config, dtype, fused):
    ours, theirs = run_both(name, config, SHAPES, dtype, fused)
    assert_params_close(ours, theirs, dtype)


@pytest.mark.parametrize("name,config,kernel", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), "sgd_step"),
    ("Adam", dict(lr=0.01, amsgrad=True), "adam_step"),
    ("AdamW", dict(lr=0.01), "adam_step"),
])
def test_large_parameters_take_the_kernel_automatically(monkeypatch, name, config, kernel):
    calls = []
    original = getattr(kernels, kernel)

    def spy(param, *args):
        calls.append(param.size)
        return original(param, *args)

    monkeypatch.setattr(kernels, kernel, spy)
    ours, theirs = run_both(name, config, [(200, 200), (10,)], np.float32, None, steps=3)
    assert_params_close(ours, theirs, np.float32)
    assert calls == [40000] * 3  # the small parameter stayed on the NumPy path


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_parameters_without_gradients_are_skipped(name):
    a, b = nesy.nn.Parameter(nesy.ones(2)), nesy.nn.Parameter(nesy.ones(2))
    opt = getattr(nesy.optim, name)([a, b], lr=0.1, weight_decay=0.1)
    a.grad = nesy.ones(2)
    opt.step()
    assert b.tolist() == [1.0, 1.0] and b not in opt.state
    assert a.tolist() != [1.0, 1.0]


def test_param_groups_with_their_own_hyperparameters_match_torch():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(4).astype(np.float32) for _ in range(2)]
    ours = [nesy.nn.Parameter(nesy.tensor(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    opt = nesy.optim.Adam([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.1}], lr=0.01)
    topt = torch.optim.Adam([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.1}],
                            lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    for _ in range(5):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(4).astype(np.float32)
            p.grad, q.grad = nesy.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    assert_params_close(ours, theirs, np.float32)


def test_first_sgd_step_by_hand():
    # momentum buffer starts as the gradient: p = 1 - 0.1 * (2 + 0.5 * 1) = 0.75
    p = nesy.nn.Parameter(nesy.tensor([1.0]))
    opt = nesy.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    p.grad = nesy.tensor([2.0])
    opt.step()
    assert p.item() == pytest.approx(0.75)
    assert opt.state[p]["momentum_buffer"].tolist() == [2.5]


def test_first_adam_step_by_hand():
    # after one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)
    p = nesy.nn.Parameter(nesy.tensor([1.0, 1.0], dtype=nesy.float64))
    opt = nesy.optim.Adam([p], lr=0.1, eps=0.0)
    p.grad = nesy.tensor([3.0, -0.5], dtype=nesy.float64)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.9, 1.1], rtol=1e-12)
