"""``Optimizer``: parameter groups, per-parameter state and their ``state_dict``, as PyTorch.

A subclass supplies ``defaults`` (its hyperparameters) and ``_step_group(group)``, which
updates the parameters' arrays in place, outside the graph. Large parameters go to a fused
Numba kernel (:mod:`nesy.optim.kernels`, imported on first use so that ``import nesy`` never
loads Numba); small ones to a few in-place NumPy operations, where a kernel launch would cost
more than the arithmetic. ``fused=True``/``False`` forces one path, ``None`` picks by size.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..nn.parameter import clear_grads
from ..tensor import Tensor, enable_grad

FUSED_THRESHOLD = 1 << 15  # elements from which one parallel kernel beats ~8 NumPy passes
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Optimizer:
    """Base class: holds ``param_groups`` (list of dicts) and ``state`` (param -> dict).

    ``params`` is an iterable of tensors, or of dicts ``{"params": [...], "lr": ...}`` whose
    missing hyperparameters are filled from ``defaults``.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (e.g. a smaller lr)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # --- stepping ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient (to None, or to zeros in place)."""
        clear_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group):
        raise NotImplementedError(f"{type(self).__name__} must implement _step_group")

    @staticmethod
    def _use_kernel(p, grad, fused):
        """The fused kernel needs flat views of C-contiguous float arrays of one dtype."""
        if fused is False:
            return False
        data = p._data
        if not (isinstance(data, np.ndarray) and data.dtype in _KERNEL_DTYPES
                and data.flags.c_contiguous and grad.dtype == data.dtype):
            return False
        return fused is True or data.size >= FUSED_THRESHOLD

    # --- state ------------------------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {name: value}}, "param_groups": [{..., "params": [index]}]}``.

        Parameters are numbered in group order; tensors in the state are returned as NumPy
        copies and counters as numbers, so ``nesy.save`` can write the dict as it is.
        """
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _export(v) for k, v in values.items()}
            for p, values in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by :meth:`state_dict`, matched by position.

        Arrays are copied and cast to their parameter's dtype (``step`` stays a number).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        by_index = {}
        for group, saved in zip(self.param_groups, saved_groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    "of optimizer's group"
                )
            by_index.update(zip((int(i) for i in saved["params"]), group["params"]))
        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise KeyError(f"optimizer state refers to parameter {key}, which no group has")
            state[p] = {name: _import(v, p, name) for name, v in values.items()}
        self.param_groups = [
            dict(saved, params=group["params"])
            for group, saved in zip(self.param_groups, saved_groups)
        ]
        self.state = state

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    text += f"\n    {key}: {group[key]}"
        return text + "\n)"


def _export(value):
    if isinstance(value, Tensor):
        return np.array(value.detach().numpy(), copy=True)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _import(value, param, name):
    if isinstance(value, Tensor):
        value = value.detach().numpy()
    if name == "step":
        return value.item() if isinstance(value, np.ndarray) else value
    if isinstance(value, np.ndarray):
        dtype = param.dtype if value.dtype.kind == "f" else value.dtype
        array = np.array(value, dtype=dtype, order="C", copy=True)
        return Tensor._from_op(param._backend().from_numpy(array), None, param.device)
    return value


def state_tensor(param):
    """A zero state tensor for ``param``: its shape and dtype, C-contiguous for the kernels."""
    return Tensor._from_op(param._backend().zeros(param.shape, param.dtype), None, param.device)
