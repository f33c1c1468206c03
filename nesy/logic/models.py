"""Built-in architectures for neural predicates and functions declared in a rule file.

``predicate Smokes(Person) = mlp(hidden = [16, 16], activation = elu).`` is an MLP from the
concatenated features of the arguments to one sigmoid truth; with ``output = softmax`` it
scores each individual of the last argument's domain (a classifier: ``Digit(Image, Num)``).
``function f(Person) -> 4 = mlp(hidden = [8]).`` is an MLP with a linear output of size 4.
"""

from __future__ import annotations


def build_model(info, input_sizes, output_size, dtype="float32"):
    """(module, classes) for a declared ``mlp``; the module is marked ``nesy_builtin`` so
    that it receives the arguments' features concatenated into one matrix."""
    import nesy

    spec = info.model
    hidden = spec.option("hidden", ())
    hidden = hidden if isinstance(hidden, tuple) else (hidden,)
    is_function = hasattr(info, "result")
    output = None if is_function else spec.option("output", "sigmoid")
    if output_size is None:
        raise ValueError(f"{info.name}: the size of its output domain is unknown")
    activation = nesy.nn.Softmax(dim=-1) if output == "softmax" else output
    sizes = [sum(input_sizes), *[int(h) for h in hidden], int(output_size)]
    model = nesy.nn.MLP(
        sizes,
        activation=spec.option("activation", "relu").lower(),
        output_activation=activation,
        dropout=float(spec.option("dropout", 0.0)),
    )
    if dtype == "float64":
        model = model.double()
    model.nesy_builtin = True
    return model, output == "softmax"
