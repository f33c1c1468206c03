"""End to end: an MLP trained with Adam learns a small synthetic classification task."""

import numpy as np

import nesy
import nesy.nn.functional as F


def spirals(n_per_class, classes=3, seed=0):
    """Interleaved noisy spirals: not linearly separable, easy for a small MLP."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.1, 1.0, n_per_class)
        angle = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.1,
                                                                              n_per_class)
        xs.append(np.stack([r * np.sin(angle), r * np.cos(angle)], 1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def test_mlp_with_adam_learns_spirals():
    nesy.manual_seed(0)
    x, y = spirals(100)
    inputs, targets = nesy.tensor(x), nesy.tensor(y)
    net = nesy.nn.MLP([2, 64, 64, 3])
    opt = nesy.optim.Adam(net.parameters(), lr=0.01)
    with nesy.no_grad():
        before = (net(inputs).argmax(1).numpy() == y).mean()
    for _ in range(300):
        opt.zero_grad()
        loss = F.cross_entropy(net(inputs), targets)
        loss.backward()
        opt.step()
    net.eval()
    with nesy.no_grad():
        accuracy = (net(inputs).argmax(1).numpy() == y).mean()
    assert before < 0.6
    assert accuracy > 0.95, f"accuracy {accuracy:.3f}, final loss {loss.item():.4f}"
