"""The Optimizer base: param groups, zero_grad, closures and state_dict round trips."""

import numpy as np
import pytest
import torch

import nesy
from nesy import nn, optim


def params(n=2):
    return [nn.Parameter(nesy.ones(3) * (i + 1)) for i in range(n)]


def test_constructor_errors_match_torch():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(nesy.ones(1, requires_grad=True), lr=0.1)
    p = params(1)[0]
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.AdamW([p], betas=(0.9, 1.0))


def test_param_groups_are_filled_from_defaults():
    a, b = params()
    opt = optim.SGD([{"params": a}, {"params": [b], "momentum": 0.5}], lr=0.1, momentum=0.9)
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.5]
    assert all(g["lr"] == 0.1 for g in opt.param_groups)
    assert opt.param_groups[0]["params"] == [a]
    c = nn.Parameter(nesy.ones(1))
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_groups[-1]["lr"] == 1.0 and opt.param_groups[-1]["dampening"] == 0


def test_accepts_a_generator_of_parameters():
    net = nn.Linear(2, 2)
    opt = optim.Adam(net.parameters())
    assert len(opt.param_groups[0]["params"]) == 2


def test_zero_grad():
    a, b = params()
    opt = optim.SGD([a, b], lr=0.1)
    a.grad, b.grad = nesy.ones(3), nesy.ones(3)
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_with_closure_returns_the_loss():
    w = nn.Parameter(nesy.tensor([2.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with nesy.no_grad():  # the closure records its graph regardless
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == pytest.approx(1.0)


def test_state_dict_layout_matches_torch():
    ours, theirs = params(), [torch.nn.Parameter(torch.ones(3) * (i + 1)) for i in range(2)]
    opt = optim.Adam([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.1}], amsgrad=True)
    topt = torch.optim.Adam([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.1}],
                            amsgrad=True)
    for p in ours:
        p.grad = nesy.ones(3)
    for q in theirs:
        q.grad = torch.ones(3)
    opt.step()
    topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd) == list(tsd) == ["state", "param_groups"]
    assert list(sd["state"]) == list(tsd["state"]) == [0, 1]
    assert set(sd["state"][0]) == set(tsd["state"][0])
    assert sd["state"][0]["step"] == 1 and isinstance(sd["state"][0]["exp_avg"], np.ndarray)
    for group, tgroup in zip(sd["param_groups"], tsd["param_groups"]):
        assert group["params"] == tgroup["params"]
        for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
            assert group[key] == tgroup[key]
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        np.testing.assert_allclose(sd["state"][1][key], tsd["state"][1][key].numpy(), rtol=1e-6)


def test_state_dict_arrays_are_copies():
    p = params(1)[0]
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = nesy.ones(3)
    opt.step()
    saved = opt.state_dict()["state"][0]["momentum_buffer"]
    opt.step()
    assert saved.tolist() == [1.0, 1.0, 1.0]


def _train(net, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = nesy.tensor(rng.standard_normal((8, 3)).astype(np.float32))
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()


@pytest.mark.parametrize("make", [
    lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    lambda p: optim.AdamW(p, lr=0.01),
    lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
])
def test_resuming_from_a_saved_checkpoint_equals_uninterrupted_training(tmp_path, make):
    nesy.manual_seed(0)
    reference = nn.MLP([3, 8, 1])
    net = nn.MLP([3, 8, 1])
    net.load_state_dict(reference.state_dict())
    ref_opt, opt = make(reference.parameters()), make(net.parameters())
    _train(reference, ref_opt, 6, seed=1)
    _train(net, opt, 3, seed=1)
    path = tmp_path / "checkpoint.npz"
    nesy.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, path)

    nesy.manual_seed(99)
    resumed = nn.MLP([3, 8, 1])
    resumed_opt = make(resumed.parameters())
    checkpoint = nesy.load(path)
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    # the remaining three batches of the reference run
    rng = np.random.default_rng(1)
    for _ in range(3):
        rng.standard_normal((8, 3))
    for _ in range(3):
        x = nesy.tensor(rng.standard_normal((8, 3)).astype(np.float32))
        resumed_opt.zero_grad()
        resumed(x).square().mean().backward()
        resumed_opt.step()
    for (name, p), (_, q) in zip(reference.named_parameters(), resumed.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=name)
    assert resumed_opt.param_groups[0]["lr"] == 0.01


def test_load_state_dict_checks_the_groups():
    a, b = params()
    opt = optim.SGD([a, b], lr=0.1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    p = nn.Parameter(nesy.ones(2, dtype=nesy.float64))
    opt = optim.Adam([p])
    opt.load_state_dict({
        "state": {0: {"step": 2, "exp_avg": np.ones(2, np.float32),
                      "exp_avg_sq": np.ones(2, np.float32)}},
        "param_groups": [dict(opt.state_dict()["param_groups"][0], lr=0.5)],
    })
    assert opt.state[p]["exp_avg"].dtype == nesy.float64
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["params"] == [p]


def test_repr_lists_groups_like_torch():
    opt = optim.SGD(params(1), lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n    dampening: 0\n")
    assert "    lr: 0.1\n" in text and text.endswith("\n)")
