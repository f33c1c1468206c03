"""Process settings applied at ``import nesy``: OpenMP spinning (before any OpenMP loads) and
glibc's thresholds for large allocations (see ``_tune_malloc``).

On two cores, OpenMP worker threads that spin-wait after a kernel (GNU OpenMP spins for
300,000 iterations by default) fight OpenBLAS's own spinning threads: a NumPy matmul followed
by a small parallel kernel then took 8.9 ms instead of 0.6 ms. Capping the spin at 1,000
iterations keeps back-to-back kernels fast (a 65k-element kernel still launches in ~4 us)
and removes the contention. ``setdefault`` leaves any value the user chose in place.

GNU OpenMP reads the variable once, when the library loads. If another package loaded it
first (``import torch`` before ``import nesy`` does), the setting comes too late: start Python
with ``GOMP_SPINCOUNT=1000`` in the environment instead (an MLP step measured 23 ms instead of
2.8 ms with PyTorch imported first and the variable unset).
"""

import ctypes
import os
import sys

os.environ.setdefault("GOMP_SPINCOUNT", "1000")


# --- large allocations ------------------------------------------------------------------------
# glibc serves allocations above a threshold (128 KiB, rising to at most 32 MiB) with fresh
# mmap()s and returns them to the OS when freed, so every large temporary is page-faulted in
# anew: on this 2-core machine that was most of the time of a rule over a million groundings
# (forward + backward of Friends/Smokes at N = 1024: 13 ms median, 5.3 ms with the thresholds
# below, as freed blocks are reused without faults). The cost: up to TRIM_THRESHOLD bytes of
# freed memory may stay resident. NESY_MALLOC_TUNING=0 in the environment keeps glibc's
# defaults.
MMAP_THRESHOLD = 256 << 20  # allocations below this come from the heap and are reused
TRIM_THRESHOLD = 512 << 20  # free memory at the heap's top kept before returning it


def _tune_malloc():
    """Raise glibc's mmap and trim thresholds (Linux with glibc only; a no-op elsewhere)."""
    if os.environ.get("NESY_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another C library: leave it alone
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(
        mallopt(m_trim_threshold, TRIM_THRESHOLD)
    )


_tune_malloc()
