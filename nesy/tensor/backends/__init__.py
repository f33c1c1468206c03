"""The dispatch layer: one table of array operations per device type.

Primitive ops never branch on the device; they call ``ctx.backend.<operation>``, and the
backend is looked up here from the inputs' device. A new device (the CUDA backend) registers
one more table with :func:`register_backend`; nothing else changes.
"""

from __future__ import annotations

from ..device import Device

_FACTORIES = {}
_INSTANCES = {}


def register_backend(device_type: str, factory) -> None:
    """Make ``factory(device)`` the backend for tensors on ``device_type`` devices."""
    _FACTORIES[device_type] = factory
    for key in [k for k in _INSTANCES if k.type == device_type]:
        object.__setattr__(key, "backend", None)
        del _INSTANCES[key]


def backend_for(device: Device):
    """The backend object serving ``device`` (created on first use)."""
    be = _INSTANCES.get(device)
    if be is None:
        factory = _FACTORIES.get(device.type)
        if factory is None:
            raise RuntimeError(_no_backend_message(device))
        be = _INSTANCES[device] = factory(device)
        object.__setattr__(device, "backend", be)  # later lookups skip hashing
    return be


def get_backend(device="cpu"):
    """The backend for a device given as a string or :class:`Device`."""
    return backend_for(Device(device))


def _no_backend_message(device):
    if device.type == "cuda":
        return (
            f"device {str(device)!r} is not available: no usable NVIDIA GPU and CUDA driver "
            "were found (nesy.cuda.is_available() is False). Install the GPU extra with "
            "pip install \"nesy[cuda]\" on a machine with a GPU, use device='cpu', or set "
            "NUMBA_ENABLE_CUDASIM=1 before importing nesy to test with numba's CUDA simulator."
        )
    return f"no backend is registered for device {str(device)!r}"


def _cpu_factory(device):
    from .cpu import CpuBackend

    return CpuBackend(device)


def _cuda_factory(device):
    from ... import cuda as nesy_cuda

    if not nesy_cuda.is_available():
        raise RuntimeError(_no_backend_message(device))
    if (device.index or 0) != 0:
        raise NotImplementedError(
            f"device {str(device)!r}: the CUDA backend runs on the current GPU only ('cuda' "
            "or 'cuda:0'); choose another GPU with CUDA_VISIBLE_DEVICES"
        )
    from .cuda import CudaBackend

    return CudaBackend(device)


register_backend("cpu", _cpu_factory)
register_backend("cuda", _cuda_factory)
