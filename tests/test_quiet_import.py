"""``import_quietly``: TensorFlow's native start-up lines are held back, anything else a
module writes to file descriptor 2 is passed on."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = r'''
import os, sys
sys.path.insert(0, sys.argv[1])
from verify.adapters import import_quietly
import_quietly("noisy")
'''


def test_noise_is_held_back_and_other_lines_pass(tmp_path):
    (tmp_path / "noisy.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called\\n')\n"
        "os.write(2, b'I0000 00:00:1 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'a real warning\\n')\n")
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["a real warning"]


def test_tensorflow_starts_without_its_log_lines():
    pytest.importorskip("tf_keras")
    done = subprocess.run([sys.executable, "-m", "verify", "check", "tf_keras:Zeros",
                           "--shape", "2,2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "I0000" not in done.stderr and "E0000" not in done.stderr, done.stderr
