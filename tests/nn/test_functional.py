"""The non-loss parts of nesy.nn.functional against torch.nn.functional."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import nesy
import nesy.nn.functional as F


def test_linear_matches_torch():
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (2, 4), (2,)])
    out = F.linear(nesy.tensor(x), nesy.tensor(w), nesy.tensor(b))
    ref = TF.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.linear(nesy.tensor(x), nesy.tensor(w)).numpy(),
                               TF.linear(torch.tensor(x), torch.tensor(w)).numpy(), rtol=1e-5)


def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1]])
    out = F.one_hot(nesy.tensor(idx))
    ref = TF.one_hot(torch.tensor(idx))
    assert out.dtype == nesy.int64
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert F.one_hot(nesy.tensor([1]), num_classes=5).shape == (1, 5)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(nesy.tensor([5]), num_classes=3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(nesy.tensor([-1]))


def test_functional_dropout_respects_training_flag():
    x = nesy.ones(100)
    assert F.dropout(x, 0.5, training=False) is x
    nesy.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    nesy.manual_seed(3)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)  # the mask comes from nesy's seeded generator
    assert set(np.unique(a)) <= {0.0, 2.0}


def test_softmax_without_dim_warns_and_uses_torchs_choice():
    data = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(nesy.tensor(data))
    with pytest.warns(UserWarning):
        ref = TF.softmax(torch.tensor(data))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)


def test_log_softmax_dtype_argument():
    out = F.log_softmax(nesy.tensor([1.0, 2.0]), dim=0, dtype=nesy.float64)
    assert out.dtype == nesy.float64


def test_elu_gradient_is_finite_for_large_inputs():
    x = nesy.tensor([1000.0, -1000.0], requires_grad=True)
    F.elu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])
