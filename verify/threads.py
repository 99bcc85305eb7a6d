"""One thread per process for NumPy's BLAS and PyTorch, chosen before they load.

The experiments and checks are many small operations (batched matrices of side 8 to
256, one network or layer at a time, dot products of 32 Ki entries in the pass over a
sample). Split over two threads, each operation waits for both; when another process
holds a core, the thread it needs is descheduled (or spins) and the wait is a time
slice. Measured on 2 cores shared with other busy processes: a training run of
``residual.easier-to-train`` took 143 s with two threads and 11 s with one, a layer
experiment of ``linear.variance`` 8.7 s and 1.1 s (OpenBLAS), two depth claims 65 s and
35 s, the pass over 1.4 M entries 0.1 to 2.5 s and 16 ms, with the same results.
Parallelism comes from processes instead (pytest-xdist workers, the executor's Dask workers),
one per core.

The variables are read when the libraries load, so :func:`one_thread_per_process`
should run before NumPy and PyTorch are imported (``python -m verify`` does); a library
already loaded is limited through ``threadpoolctl`` and ``torch.set_num_threads``. A
value already set in the environment is kept.
"""

from __future__ import annotations

import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_thread_per_process() -> None:
    """Ask OpenMP (PyTorch), OpenBLAS (NumPy, SciPy) and MKL for one thread each,
    unless the environment already says otherwise (subprocesses inherit it)."""
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    if "numpy" in sys.modules and os.environ["OPENBLAS_NUM_THREADS"] == "1":
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    torch = sys.modules.get("torch")
    if torch is not None and os.environ["OMP_NUM_THREADS"] == "1":
        torch.set_num_threads(1)
