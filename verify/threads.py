"""One thread per process for NumPy's BLAS and PyTorch, chosen before they load.

The experiments are many small operations (batched matrices of side 8 to 256, one
network or layer at a time). Split over two threads, each operation waits for both;
when another process holds a core, the thread it needs is descheduled and the wait
is a time slice. Measured on 2 cores shared with one other busy process: a training
run of ``residual.easier-to-train`` took 143 s with two threads and 11 s with one, a
layer experiment of ``linear.variance`` 8.7 s and 1.1 s (OpenBLAS), with the same
results. Parallelism comes from processes instead (pytest-xdist workers, Dask
workers), one per core.

The variables are read when the libraries load, so :func:`one_thread_per_process`
must run before NumPy and PyTorch are imported; a value already set is kept.
"""

from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_thread_per_process() -> None:
    """Ask OpenMP (PyTorch), OpenBLAS (NumPy, SciPy) and MKL for one thread each,
    unless the environment already says otherwise (subprocesses inherit it)."""
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
