"""The demos behind ``nesy demo``, on data shipped with the package (no downloads).

``run_rules`` is the README's main job: the command line trains the bundled smokers rules
and evaluates them on what-if cases. ``run`` (``nesy demo --engine``) has an MLP learn the
bundled two-moons data with nesy's autograd alone.
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


# --- the main job: rules trained and evaluated with the command line ------------------------
def run_rules(epochs=300, lr=0.01, seed=0, out=print, workdir=None):
    """``nesy train`` the bundled smokers rules, then ``nesy eval`` them on the bundled
    what-if cases; print one row per case and return the rows (dicts).

    Each case adds evidence to the rule file's facts (``Smokes(b).``, ``Cancer(i).``, ...);
    its satisfaction says how well that evidence fits what the networks learned.
    """
    import csv
    import os
    import tempfile

    from .cli import main
    from .examples import rules_dir

    rules = os.path.join(rules_dir(), "smokers.nesy")
    cases = os.path.join(rules_dir(), "smokers_cases.jsonl")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        checkpoint = os.path.join(tmp, "smokers.npz")
        results = os.path.join(tmp, "results.csv")
        out(f"$ nesy train {_short(rules)} --epochs {epochs} --lr {lr} --checkpoint smokers.npz")
        status = main(["train", rules, "--epochs", str(epochs), "--lr", str(lr), "--seed",
                       str(seed), "--checkpoint", checkpoint])
        if status != 0:
            return status
        out(f"\n$ nesy eval {_short(rules)} --data {_short(cases)} --checkpoint smokers.npz "
            "--out results.csv")
        status = main(["eval", rules, "--data", cases, "--checkpoint", checkpoint,
                       "--out", results, "--quiet"])
        if status != 0:
            return status
        with open(results, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    out("\nwhat-if cases (evidence added to the rule file's facts):")
    out(f"{'case':<18} {'satisfaction':>12} {'change':>8}  most strained rule")
    base = rows[0]
    for row in rows:
        sat = float(row["satisfaction"])
        drops = {k[5:]: float(row[k]) - float(base[k]) for k in row
                 if k.startswith("rule:") and row[k] and base.get(k)}
        worst = min(drops, key=drops.get) if drops else ""
        strained = f"{worst} ({drops[worst]:+.4f})" if worst and drops[worst] < 0 else "-"
        out(f"{row['id']:<18} {sat:>12.4f} {sat - float(base['satisfaction']):>+8.4f}  {strained}")
    return 0


def _short(path):
    import os

    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path
