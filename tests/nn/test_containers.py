"""Sequential, ModuleList, ModuleDict and MLP against their torch counterparts."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import nesy
from nesy import nn


def names(module):
    return [name for name, _ in module.named_parameters()]


def test_sequential_indexing_and_editing_like_torch():
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert len(ours) == 3 and isinstance(ours[-1], nn.Linear)
    assert isinstance(ours[1:], nn.Sequential) and len(ours[1:]) == 2
    assert names(ours[1:]) == names(theirs[1:]) == ["2.weight", "2.bias"]  # names kept
    del ours[0]
    del theirs[0]
    assert names(ours) == names(theirs) == ["1.weight", "1.bias"]
    ours.append(nn.Sigmoid())
    theirs.append(torch.nn.Sigmoid())
    assert repr(ours) == repr(theirs)
    with pytest.raises(IndexError):
        ours[5]


def test_sequential_from_ordered_dict_keeps_names():
    ours = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert names(ours) == ["fc.weight", "fc.bias"]
    assert ours["act"].__class__ is nn.Tanh
    x = nesy.randn(3, 2)
    expected = nesy.tanh(ours.fc(x))
    np.testing.assert_array_equal(ours(x).detach().numpy(), expected.detach().numpy())


def test_module_list_like_torch():
    ours = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
    ours.append(nn.ReLU())
    theirs.append(torch.nn.ReLU())
    assert names(ours) == names(theirs)
    assert repr(ours) == repr(theirs)  # "(0-2): 3 x Linear(...)"
    ours.insert(0, nn.Tanh())
    theirs.insert(0, torch.nn.Tanh())
    assert names(ours) == names(theirs)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert isinstance(ours[1:3], nn.ModuleList) and len(ours[1:3]) == 2


def test_module_list_registers_parameters_of_a_holder():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(2))

    assert names(Stack()) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                              "layers.1.bias"]


def test_module_dict_like_torch():
    ours = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.Linear(1, 2)})
    theirs = torch.nn.ModuleDict({"b": torch.nn.Linear(1, 1), "a": torch.nn.Linear(1, 2)})
    assert names(ours) == names(theirs)
    assert list(ours.keys()) == list(theirs.keys()) and "a" in ours and len(ours) == 2
    ours.pop("b")
    assert names(ours) == ["a.weight", "a.bias"]
    assert repr(ours) == repr(theirs.pop("b") and theirs)


# --- MLP ------------------------------------------------------------------------------------
def test_mlp_structure_and_parameter_count():
    mlp = nn.MLP([784, 256, 10])
    assert [type(m) for m in mlp] == [nn.Linear, nn.ReLU, nn.Linear]
    assert sum(p.numel() for p in mlp.parameters()) == 784 * 256 + 256 + 256 * 10 + 10
    assert names(mlp) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    theirs = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                 torch.nn.Linear(256, 10))
    assert repr(mlp).replace("MLP", "Sequential", 1) == repr(theirs)


def test_mlp_matches_torch_forward_and_backward():
    mlp = nn.MLP([5, 8, 8, 3], activation="tanh", output_activation=nn.Sigmoid)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8),
                                 torch.nn.Tanh(), torch.nn.Linear(8, 3), torch.nn.Sigmoid())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mlp.state_dict().items()})
    data = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    out, ref = mlp(nesy.tensor(data)), theirs(torch.tensor(data))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    for (name, p), (_, q) in zip(mlp.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)


def test_mlp_activation_forms_and_dropout():
    leaky = nn.LeakyReLU(0.3)
    mlp = nn.MLP([2, 4, 4, 1], activation=leaky, dropout=0.1, output_activation="sigmoid")
    kinds = [type(m).__name__ for m in mlp]
    assert kinds == ["Linear", "LeakyReLU", "Dropout", "Linear", "LeakyReLU", "Dropout",
                     "Linear", "Sigmoid"]
    assert mlp[1] is leaky
    assert [type(m) for m in nn.MLP([2, 3, 1], activation=nn.ELU)][1] is nn.ELU
    with pytest.raises(ValueError, match="unknown activation"):
        nn.MLP([2, 2, 2], activation="swish")
    with pytest.raises(ValueError, match="at least"):
        nn.MLP([3])


def test_mlp_dropout_follows_train_and_eval():
    nesy.manual_seed(0)
    mlp = nn.MLP([10, 50, 2], dropout=0.5)
    x = nesy.randn(8, 10)
    mlp.eval()
    first, second = mlp(x).detach().numpy(), mlp(x).detach().numpy()
    np.testing.assert_array_equal(first, second)
    mlp.train()
    assert not np.array_equal(mlp(x).detach().numpy(), mlp(x).detach().numpy())
