"""Module bookkeeping against torch.nn.Module: names, order, state_dict, modes, repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import nesy
from nesy import nn


def make_pair():
    """The same architecture in nesy and torch, weights copied from nesy."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
            self.head = nn.Linear(2, 1, bias=False)
            self.register_buffer("scale", nesy.ones(1) * 2)
            self.register_buffer("cache", nesy.zeros(1), persistent=False)
            self.note = nesy.zeros(1)  # a plain tensor attribute is not registered

        def forward(self, x):
            return self.head(self.encoder(x)) * self.scale

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                               torch.nn.Linear(4, 2))
            self.head = torch.nn.Linear(2, 1, bias=False)
            self.register_buffer("scale", torch.ones(1) * 2)
            self.register_buffer("cache", torch.zeros(1), persistent=False)

        def forward(self, x):
            return self.head(self.encoder(x)) * self.scale

    ours, theirs = Net(), TorchNet()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def names(pairs):
    return [name for name, _ in pairs]


def test_names_and_order_match_torch():
    ours, theirs = make_pair()
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert names(ours.named_parameters()) == ["encoder.0.weight", "encoder.0.bias",
                                              "encoder.2.weight", "encoder.2.bias",
                                              "head.weight"]
    assert names(ours.named_buffers()) == names(theirs.named_buffers()) == ["scale", "cache"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert names(ours.named_children()) == names(theirs.named_children())
    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert len(list(ours.modules())) == 6
    assert len(list(ours.parameters())) == 5
    assert sum(p.numel() for p in ours.parameters()) == 3 * 4 + 4 + 4 * 2 + 2 + 2


def test_forward_and_gradients_match_torch():
    ours, theirs = make_pair()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    out, ref = ours(nesy.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(nesy.zeros(2))
    m.t = nesy.zeros(2)
    assert names(m.named_parameters()) == ["w"] and "t" not in m.state_dict()
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.w = nesy.zeros(2)
    m.w = None
    assert list(m.parameters()) == [] and m.w is None
    m.child = nn.Linear(1, 1)
    del m.child
    assert list(m.children()) == []
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        m.missing  # noqa: B018
    with pytest.raises(KeyError, match="attribute 'w2' already exists"):
        m.w2 = 1
        m.register_parameter("w2", nn.Parameter(nesy.zeros(1)))


def test_assigning_before_init_is_an_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(nesy.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_shared_module_is_counted_once_like_torch():
    shared = nn.Linear(2, 2)
    ours = nn.Sequential(shared, nn.ReLU(), shared)
    tshared = torch.nn.Linear(2, 2)
    theirs = torch.nn.Sequential(tshared, torch.nn.ReLU(), tshared)
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 2
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert names(ours.named_modules()) == names(theirs.named_modules())


def test_parameter_is_a_leaf_requiring_grad():
    p = nn.Parameter(nesy.tensor([1.0, 2.0]))
    assert isinstance(p, nesy.Tensor) and p.requires_grad and p.is_leaf
    assert not nn.Parameter(nesy.zeros(1), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_train_eval_propagate():
    ours, theirs = make_pair()
    assert ours.training and ours.encoder[0].training
    assert ours.eval() is ours
    assert not any(m.training for m in ours.modules())
    ours.train()
    assert all(m.training for m in ours.modules())
    with pytest.raises(ValueError, match="boolean"):
        ours.train("no")


def test_zero_grad():
    ours, _ = make_pair()
    ours(nesy.ones(2, 3)).sum().backward()
    ours.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in ours.parameters())
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())


# --- state_dict -----------------------------------------------------------------------------
def test_state_dict_is_detached_and_shares_storage():
    ours, _ = make_pair()
    sd = ours.state_dict()
    assert isinstance(sd, OrderedDict) and not sd["head.weight"].requires_grad
    with nesy.no_grad():
        ours.head.weight.fill_(3.0)
    assert (sd["head.weight"].numpy() == 3.0).all()


def test_load_state_dict_round_trip():
    a, _ = make_pair()
    b, _ = make_pair()
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    x = nesy.randn(4, 3)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_strict_load_names_missing_and_unexpected_keys_like_torch():
    ours, theirs = make_pair()
    sd = ours.state_dict()
    del sd["head.weight"]
    sd["extra.bias"] = nesy.zeros(1)
    tsd = {k: torch.tensor(v.numpy()) for k, v in sd.items()}
    with pytest.raises(RuntimeError) as ours_error:
        ours.load_state_dict(sd)
    with pytest.raises(RuntimeError) as torch_error:
        theirs.load_state_dict(tsd)
    assert str(ours_error.value).replace("Net", "X") == \
        str(torch_error.value).replace("TorchNet", "X")
    assert '"head.weight"' in str(ours_error.value) and '"extra.bias"' in str(ours_error.value)


def test_non_strict_load_returns_the_keys():
    ours, theirs = make_pair()
    sd = ours.state_dict()
    del sd["scale"]
    sd["bogus"] = nesy.zeros(1)
    result = ours.load_state_dict(sd, strict=False)
    missing, unexpected = result
    assert (missing, unexpected) == (["scale"], ["bogus"])
    tsd = {k: torch.tensor(v.numpy()) for k, v in sd.items()}
    assert tuple(theirs.load_state_dict(tsd, strict=False)) == (missing, unexpected)


def test_size_mismatch_is_reported_even_when_not_strict():
    ours, _ = make_pair()
    sd = ours.state_dict()
    sd["head.weight"] = nesy.zeros(3, 3)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for head\.weight.*\(3, 3\).*"
                                               r"\(1, 2\)"):
            ours.load_state_dict(sd, strict=strict)


def test_load_casts_to_the_parameter_dtype_and_accepts_arrays():
    lin = nn.Linear(2, 1)
    lin.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": np.array([0.5])})
    assert lin.weight.dtype == nesy.float32
    assert lin.weight.tolist() == [[1.0, 2.0]] and lin.bias.tolist() == [0.5]


# --- conversion, apply, repr ---------------------------------------------------------
def test_to_keeps_parameter_identity():
    ours, _ = make_pair()
    ours.register_buffer("counts", nesy.zeros(2, dtype=nesy.int64))
    before = list(ours.parameters())
    assert ours.to(nesy.float64) is ours
    assert [id(p) for p in ours.parameters()] == [id(p) for p in before]
    assert all(p.dtype == nesy.float64 for p in ours.parameters())
    assert ours.counts.dtype == nesy.int64  # only floating tensors change dtype
    assert ours(nesy.ones(1, 3, dtype=nesy.float64)).dtype == nesy.float64
    ours.to("cpu").float()
    assert ours.head.weight.dtype == nesy.float32
    with pytest.raises(TypeError, match="floating point"):
        ours.to(nesy.int32)


def test_apply_visits_children_first_like_torch():
    ours, theirs = make_pair()
    seen, tseen = [], []
    ours.apply(lambda m: seen.append(type(m).__name__))
    theirs.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == [n.replace("TorchNet", "Net") for n in tseen]


def test_repr_matches_torch():
    ours, theirs = make_pair()
    assert repr(ours).replace("Net", "X") == repr(theirs).replace("TorchNet", "X")


def test_forward_is_required():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_deepcopy_gives_independent_parameters():
    net = nn.MLP([2, 3, 1])
    clone = copy.deepcopy(net)
    assert clone[0].weight is not net[0].weight
    np.testing.assert_array_equal(clone[0].weight.detach().numpy(), net[0].weight.detach().numpy())
    with nesy.no_grad():
        clone[0].weight.fill_(0.0)
    assert net[0].weight.detach().numpy().any()
