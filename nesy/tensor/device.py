"""Device names: ``"cpu"``, ``"cuda"``, ``"cuda:1"``; compared equal to their strings."""

from __future__ import annotations


class Device:
    """Where a tensor's data lives, like ``torch.device``.

    >>> import nesy
    >>> nesy.device("cpu") == "cpu"
    True
    """

    __slots__ = ("type", "index", "backend")  # backend: cached by the dispatch layer

    def __new__(cls, spec="cpu", index=None):
        if isinstance(spec, Device):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {spec!r}; expected 'cpu' or 'cuda[:N]'")
        if idx:
            if not idx.isdigit():
                raise ValueError(f"device: bad device index in {spec!r}")
            index = int(idx)
        key = (kind, index)
        cached = _CACHE.get(key)
        if cached is None:
            cached = object.__new__(cls)
            object.__setattr__(cached, "type", kind)
            object.__setattr__(cached, "index", index)
            object.__setattr__(cached, "backend", None)
            _CACHE[key] = cached
        return cached

    def __setattr__(self, name, value):
        raise AttributeError("Device is immutable")

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except ValueError:
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (Device, (str(self),))


_CACHE: dict = {}
CPU = Device("cpu")
