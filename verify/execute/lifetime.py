"""Child processes that end with the process that started them.

A unit may start processes of its own (``history`` installs a release with pip and runs
its entries in a child). When its worker ends (Ctrl-C stops an embedded cluster, a
cluster restarts a hung worker), those children would run on, orphaned, for as long as
their own timeouts allow, writing into caches nobody reads. On Linux, :func:`bound` runs a
command through a small ``exec`` wrapper that asks the kernel to send it ``SIGTERM`` when
its parent ends (``prctl(PR_SET_PDEATHSIG)``, kept across ``execve``). No ``preexec_fn``:
it is unsafe in a process with threads, which a Dask worker is. Elsewhere the command is
returned as it is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

_WRAPPER = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):  # the parent ended before the line above
    sys.exit(143)
os.execv(sys.argv[2], sys.argv[2:])
"""


def bound(command: Sequence[str]) -> list[str]:
    """``command`` (its first item an executable path), run so that it receives SIGTERM
    when the calling process ends (Linux); unchanged on other systems."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-I", "-c", _WRAPPER, str(os.getpid()), *command]
