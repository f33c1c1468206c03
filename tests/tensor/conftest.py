"""Fixtures shared by the engine's tests: the CPU path (NumPy or Numba kernels)."""

import pytest

from nesy.tensor.backends.cpu import kernel_threshold

SMALL_PATH_THRESHOLD = 1 << 15  # the default: test inputs (< 1000 elements) stay on NumPy


@pytest.fixture(params=["numpy", "numba"])
def path(request):
    """Run the test with arrays routed to NumPy, or with every float array sent to Numba."""
    threshold = SMALL_PATH_THRESHOLD if request.param == "numpy" else 0
    with kernel_threshold(threshold):
        yield request.param
