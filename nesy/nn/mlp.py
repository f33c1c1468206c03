"""``MLP``: a multilayer perceptron built as a ``Sequential`` of Linear/activation/Dropout."""

from __future__ import annotations

from .activations import ACTIVATIONS
from .containers import Sequential
from .layers import Dropout, Linear
from .module import Module


def _activation(spec, role):
    """A module from a name (``"relu"``), a Module class, or a Module instance."""
    if isinstance(spec, Module):
        return spec  # shared between layers; fine for stateless activations
    if isinstance(spec, str):
        key = spec.lower()
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown {role} {spec!r}; expected one of {sorted(ACTIVATIONS)}, a Module "
                "class or a Module instance"
            )
        return ACTIVATIONS[key]()
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    raise TypeError(
        f"{role} must be a name, a Module class or a Module instance, got {spec!r}"
    )


class MLP(Sequential):
    """Linear layers of the given ``sizes`` with an activation (and dropout) between them.

    ``MLP([784, 256, 10])`` is ``Linear(784, 256), ReLU(), Linear(256, 10)``; with
    ``dropout=p`` a ``Dropout(p)`` follows each hidden activation, and
    ``output_activation`` (None, a name, class or instance) is appended after the last layer.
    Parameter names are those of the Sequential: ``"0.weight"``, ``"2.bias"``, ...

    >>> import nesy
    >>> nesy.nn.MLP([4, 8, 3])(nesy.zeros(5, 4)).shape
    (5, 3)
    """

    def __init__(self, sizes, activation="relu", output_activation=None, dropout=0.0):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(_activation(activation, "activation"))
                if dropout > 0:
                    layers.append(Dropout(dropout))
        if output_activation is not None:
            layers.append(_activation(output_activation, "output_activation"))
        super().__init__(*layers)
        self.sizes = sizes
