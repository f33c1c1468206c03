"""Process settings for Numba's parallel kernels, applied before their first launch.

On two cores, OpenMP worker threads that spin-wait after a kernel (GNU OpenMP spins for
300,000 iterations by default) fight OpenBLAS's own spinning threads: a NumPy matmul followed
by a small parallel kernel then took 8.9 ms instead of 0.6 ms. Capping the spin at 1,000
iterations keeps back-to-back kernels fast (a 65k-element kernel still launches in ~4 us)
and removes the contention. ``setdefault`` leaves any value the user chose in place.
"""

import os

os.environ.setdefault("GOMP_SPINCOUNT", "1000")
