"""Learning to read digits from sums only, on scikit-learn's 8x8 digits.

The rules are ``rules/digits_addition.nesy`` (one-digit numbers: the sum of two images) and
``rules/digits_addition2.nesy`` (two-digit numbers: four images, sums up to 198). Training
sees only images and sums; the test split's images are never trained on. Reported: accuracy
of the predicted sum on test examples and of the single digits on test images.

    python -m nesy.examples.digits_addition [--digits 2] [--epochs 15]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

RULES = {1: "digits_addition.nesy", 2: "digits_addition2.nesy"}
SLOTS = {1: ("left", "right"), 2: ("tens1", "units1", "tens2", "units2")}


def load_digits(seed=0, test_fraction=0.3):
    """(train images, train labels, test images, test labels), pixels scaled to [0, 1]."""
    try:
        from sklearn.datasets import load_digits as sk_load
    except ImportError:
        raise ImportError('this example needs scikit-learn: pip install "nesy[examples]"') from None
    data = sk_load()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def make_examples(labels, n, digits, rng):
    """Random examples over ``labels``' images: (image indices [n, 2 * digits], sums [n])."""
    index = rng.integers(0, len(labels), size=(n, 2 * digits))
    d = labels[index]
    place = 10 ** np.arange(digits - 1, -1, -1)
    numbers = d.reshape(n, 2, digits) @ place
    return index, numbers.sum(axis=1)


def build(digits, images, rules=None):
    """The knowledge base, its images' features set from Python."""
    import nesy

    from . import rules_dir

    kb = nesy.logic.load(os.path.join(rules or rules_dir(), RULES[digits]))
    kb.set_features("Image", images)
    return kb


def set_batch(kb, digits, images, index, sums):
    """Point the functions of the rule file at one batch of examples."""
    for slot, column in zip(SLOTS[digits], index.T):
        kb.set_function(slot, images[column])
    kb.set_function("total", sums.astype(np.float32))


def accuracy(kb, images, labels, digits, n_test, rng):
    """(sum accuracy on fresh test examples, single-digit accuracy) on ``images``."""
    import nesy

    with nesy.no_grad():
        predicted = kb.models.Digit(nesy.tensor(images)).numpy().argmax(axis=1)
    index, sums = make_examples(labels, n_test, digits, rng)
    d = predicted[index]
    place = 10 ** np.arange(digits - 1, -1, -1)
    guessed = (d.reshape(n_test, 2, digits) @ place).sum(axis=1)
    return float((guessed == sums).mean()), float((predicted == labels).mean())


def run(digits=1, n_train=3000, epochs=15, batch_size=32, lr=0.003, seed=0, rules=None):
    """Train on sums in mini-batches, then report test accuracies: a dict with
    ``sum_accuracy``, ``digit_accuracy``, ``seconds`` and the last batch's ``satisfaction``."""
    import nesy

    if digits not in RULES:
        raise ValueError(f"digits must be 1 or 2, got {digits}")
    nesy.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train, x_test, y_test = load_digits(seed)
    index, sums = make_examples(y_train, n_train, digits, rng)
    kb = build(digits, x_train, rules)
    optimizer = nesy.optim.Adam(kb.parameters(), lr=lr)
    start = time.perf_counter()
    for _ in range(epochs):  # the plain loop: a batch's examples are the domain Pair
        order = rng.permutation(n_train)
        for begin in range(0, n_train - batch_size + 1, batch_size):
            batch = order[begin : begin + batch_size]
            set_batch(kb, digits, x_train, index[batch], sums[batch])
            optimizer.zero_grad()
            loss = kb.loss()
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    sum_acc, digit_acc = accuracy(kb, x_test, y_test, digits, 2000, rng)
    return {
        "digits": digits,
        "sum_accuracy": sum_acc,
        "digit_accuracy": digit_acc,
        "satisfaction": 1.0 - float(loss.item()),
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=1, choices=(1, 2))
    parser.add_argument("--examples", type=int, default=3000, help="training examples")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.digits, args.examples, args.epochs, args.batch_size, args.lr, args.seed)
    print(
        f"{args.digits}-digit numbers: sum accuracy {result['sum_accuracy']:.3f}, "
        f"digit accuracy {result['digit_accuracy']:.3f} (test split), "
        f"satisfaction {result['satisfaction']:.3f}, {result['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
