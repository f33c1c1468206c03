"""Layers and activations against torch.nn with the same weights; init distributions."""

import math

import numpy as np
import pytest
import torch

import nesy
from nesy import nn

rng = np.random.default_rng(1)


def copy_to_torch(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return theirs


def assert_close(a, b, rtol=1e-5, atol=1e-6):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a.detach().numpy() if isinstance(a, nesy.Tensor) else a, b,
                               rtol=rtol, atol=atol)


# --- Linear ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [(5,), (2, 3), ()])
def test_linear_matches_torch(bias, batch):
    ours = nn.Linear(4, 3, bias=bias)
    theirs = copy_to_torch(ours, torch.nn.Linear(4, 3, bias=bias))
    data = rng.standard_normal(batch + (4,)).astype(np.float32)
    x, tx = nesy.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, ref = ours(x), theirs(tx)
    assert_close(out, ref)
    seed = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(nesy.tensor(seed))
    ref.backward(torch.tensor(seed))
    assert_close(x.grad, tx.grad)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)
    assert repr(ours) == repr(theirs)


def test_linear_init_follows_pytorch_bounds():
    nesy.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) and the bias share this bound
    for p in (lin.weight, lin.bias):
        values = p.detach().numpy()
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.95 * bound
    # U(-b, b) has standard deviation b / sqrt(3)
    assert lin.weight.detach().numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_linear_init_is_reproducible_with_manual_seed():
    nesy.manual_seed(7)
    a = nn.Linear(5, 4)
    nesy.manual_seed(7)
    b = nn.Linear(5, 4)
    c = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    np.testing.assert_array_equal(a.bias.detach().numpy(), b.bias.detach().numpy())
    assert not np.array_equal(a.weight.detach().numpy(), c.weight.detach().numpy())


def test_linear_dtype_argument():
    lin = nn.Linear(2, 2, dtype=nesy.float64)
    assert lin.weight.dtype == lin.bias.dtype == nesy.float64


def test_init_helpers_against_their_formulas():
    w = nesy.empty(200, 100)
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / 300)
    assert np.abs(w.numpy()).max() <= bound
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 100), rel=0.05)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    assert nn.init.calculate_gain("tanh") == torch.nn.init.calculate_gain("tanh")
    nn.init.zeros_(w)
    assert not w.numpy().any()


# --- Embedding -----------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx):
    ours = nn.Embedding(6, 3, padding_idx=padding_idx)
    theirs = copy_to_torch(ours, torch.nn.Embedding(6, 3, padding_idx=padding_idx))
    idx = np.array([[0, 2, 2], [5, 1, 2]])  # repeated indices accumulate their gradients
    out, ref = ours(nesy.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out, ref)
    seed = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(nesy.tensor(seed))
    ref.backward(torch.tensor(seed))
    assert_close(ours.weight.grad, theirs.weight.grad)
    assert repr(ours) == repr(theirs)


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(4, 2, padding_idx=1)
    assert not emb.weight.detach().numpy()[1].any()
    emb(nesy.tensor([1, 1, 3])).sum().backward()
    grad = emb.weight.grad.numpy()
    np.testing.assert_array_equal(grad[1], [0.0, 0.0])
    np.testing.assert_array_equal(grad[3], [1.0, 1.0])


def test_embedding_init_is_standard_normal():
    nesy.manual_seed(0)
    values = nn.Embedding(1000, 50).weight.detach().numpy()
    assert values.mean() == pytest.approx(0.0, abs=0.01)
    assert values.std() == pytest.approx(1.0, abs=0.01)


def test_embedding_from_pretrained_is_frozen():
    table = nesy.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    assert emb(nesy.tensor([1])).tolist() == [[3.0, 4.0]]
    with pytest.raises(RuntimeError, match="integer"):
        emb(nesy.tensor([1.0]))


# --- Dropout ------------------------------------------------------------------------------
def test_dropout_in_train_mode_zeros_and_rescales():
    nesy.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = nesy.ones(200, 100, requires_grad=True)
    y = drop(x)
    values = y.detach().numpy()
    kept = values != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(values[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)  # gradient through the same mask


def test_dropout_is_identity_in_eval_mode():
    drop = nn.Dropout(0.5).eval()
    x = nesy.randn(10, 10)
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    drop.train()
    assert (drop(x).numpy() == 0).any()


def test_dropout_edge_probabilities():
    x = nesy.randn(5, 5)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    assert not nn.Dropout(1.0)(x).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))


# --- shape layers and activations -------------------------------------------------------
def test_flatten_and_identity():
    x = nesy.randn(2, 3, 4)
    assert nn.Flatten()(x).shape == tuple(torch.nn.Flatten()(torch.zeros(2, 3, 4)).shape)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Identity(54, unused=True)(x) is x
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())


ACTIVATIONS = [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.ELU(0.5), torch.nn.ELU(0.5)),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Softplus(), torch.nn.Softplus()),
    (nn.Softplus(beta=2.0, threshold=5.0), torch.nn.Softplus(beta=2.0, threshold=5.0)),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
]


@pytest.mark.parametrize("ours,theirs", ACTIVATIONS, ids=lambda m: repr(m))
def test_activations_match_torch(ours, theirs):
    data = np.concatenate([rng.standard_normal((3, 4)) * 3,
                           [[-100.0, -1.0, 0.0, 100.0]]]).astype(np.float32)
    x, tx = nesy.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, ref = ours(x), theirs(tx)
    assert_close(out, ref)
    seed = rng.standard_normal(data.shape).astype(np.float32)
    out.backward(nesy.tensor(seed))
    ref.backward(torch.tensor(seed))
    assert_close(x.grad, tx.grad)
    assert np.isfinite(x.grad.numpy()).all()
    assert repr(ours) == repr(theirs)
