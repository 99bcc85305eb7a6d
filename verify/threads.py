"""One compute thread per process, for the command line and the test suite.

The work of a run is many small operations: dot products of 32 Ki entries in the pass
over a sample, matrix products of a few hundred rows in the layer and depth
experiments, fills of tensors with a handful of entries. OpenBLAS and OpenMP (which
torch's CPU build uses) start one thread per core for each of them, and those threads
spin while they wait. On 2 cores shared with anything else (the other worker of
``pytest -n auto``, the other checks of a report) that made the same work 2 to 100
times slower, measured: a pass over 1.4 M entries took 0.1 to 2.5 s instead of 16 ms,
``claims --only linear.variance`` 89 s instead of 28 s, two depth claims 65 s instead
of 35 s. A thread count the user set in the environment is left alone.
"""

from __future__ import annotations

import os
import sys

_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded() -> None:
    """Limit BLAS, OpenMP and torch's intra-op pool to one thread, in this process and in
    the processes it starts, unless the environment already sets a thread count."""
    if any(os.environ.get(name) for name in _VARIABLES):
        return
    for name in _VARIABLES:  # read by libraries loaded later, and by child processes
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # the libraries already loaded (NumPy's OpenBLAS)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
