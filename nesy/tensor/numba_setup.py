"""Process settings for parallel kernels, applied at ``import nesy`` (before any OpenMP loads).

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

import os

os.environ.setdefault("GOMP_SPINCOUNT", "1000")
