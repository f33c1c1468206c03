"""The engine demo: an MLP learns the bundled two-moons data set with nesy's autograd.

It exercises what every later feature runs on (tensors, ``nesy.nn``, ``nesy.optim``) on data
shipped with the package, so ``nesy demo`` works on a fresh install with no downloads. The
rule-language issues replace it as the README's main job.
"""

from __future__ import annotations

import time
from importlib import resources

import numpy as np


def load_moons():
    """The bundled two-moons data: features (600, 2) float32 and labels (600,) int64."""
    text = resources.files("nesy.data").joinpath("moons.csv").read_text()
    table = np.loadtxt(text.splitlines(), delimiter=",", skiprows=2)
    return table[:, :2].astype(np.float32), table[:, 2].astype(np.int64)


def run(epochs=300, lr=0.01, seed=0, hidden=32, report=None, out=print):
    """Train an MLP (2-hidden-hidden-2) with Adam; return the final test accuracy.

    ``report`` epochs (default: 5 evenly spaced) get a row: epoch, loss, train and test
    accuracy, elapsed seconds.
    """
    import nesy
    import nesy.nn.functional as F

    nesy.manual_seed(seed)
    x, y = load_moons()
    split = int(0.8 * len(x))
    xtr, ytr = nesy.tensor(x[:split]), nesy.tensor(y[:split])
    xte, yte = nesy.tensor(x[split:]), nesy.tensor(y[split:])
    model = nesy.nn.MLP([2, hidden, hidden, 2])
    opt = nesy.optim.Adam(model.parameters(), lr=lr)
    report = set(report or np.linspace(epochs // 5, epochs, 5, dtype=int).tolist())
    out(f"{'epoch':>6} {'loss':>8} {'train acc':>10} {'test acc':>9} {'time s':>7}")
    start = time.perf_counter()
    test_acc = 0.0
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        loss = F.cross_entropy(model(xtr), ytr)
        loss.backward()
        opt.step()
        if epoch in report:
            with nesy.no_grad():
                train_acc = _accuracy(model(xtr), ytr)
                test_acc = _accuracy(model(xte), yte)
            out(f"{epoch:>6} {loss.item():>8.4f} {train_acc:>10.3f} {test_acc:>9.3f} "
                f"{time.perf_counter() - start:>7.2f}")
    return test_acc


def _accuracy(logits, labels):
    return float((logits.argmax(1) == labels).float().mean().item())
