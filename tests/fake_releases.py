"""A local wheelhouse of a small fake library, ``fakeinit``, for ``history``'s tests.

``fakeinit.init:he(shape, rng)`` is a NumPy initializer (``--api numpy``, shapes in
``oihw``: fan-in is the product of all dimensions but the first). Its releases:

- 1.0.0 draws He normal, ``N(0, 2 / fan_in)``: it conforms to ``--scheme he --dist normal``;
- 1.1.0 does not import (it imports a compiled part that it does not ship);
- 1.2.0 draws ``N(0, 1 / fan_in)``, LeCun's law: half the variance He claims.

:func:`confounded_wheelhouse` adds 2.0.0 (He) and 2.1.0 (LeCun again, and it needs
``fakedep``, which the running environment does not have: a pin it moves).

The wheels are written by hand (a wheel is a zip with a ``.dist-info``), so that no build
backend and no index is needed.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

HE = '''import math


def he(shape, rng):
    fan_in = math.prod(shape[1:])
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
'''

LECUN = '''import math


def he(shape, rng):
    fan_in = math.prod(shape[1:])
    return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape)
'''

BROKEN_INIT = "import fakeinit_native  # noqa: F401 - the compiled part this release forgot\n"

RELEASES = {
    "1.0.0": {"fakeinit/__init__.py": "", "fakeinit/init.py": HE},
    "1.1.0": {"fakeinit/__init__.py": BROKEN_INIT, "fakeinit/init.py": HE},
    "1.2.0": {"fakeinit/__init__.py": "", "fakeinit/init.py": LECUN},
}


def write_wheel(directory: Path, name: str, version: str, files: dict[str, str],
                requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel of ``name`` ``version`` holding ``files`` (path -> text)."""
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    contents = {**files, f"{info}/METADATA": metadata,
                f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\n"
                                 "Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(data)}")
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    return wheel


def wheelhouse(directory: Path) -> Path:
    """The three releases of ``fakeinit`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for version, files in RELEASES.items():
        write_wheel(directory, "fakeinit", version, files)
    return directory


def confounded_wheelhouse(directory: Path) -> Path:
    """``fakeinit`` 2.0.0 (He) and 2.1.0 (LeCun, needs ``fakedep``), and ``fakedep``."""
    directory.mkdir(parents=True, exist_ok=True)
    write_wheel(directory, "fakeinit", "2.0.0", {"fakeinit/__init__.py": "",
                                                 "fakeinit/init.py": HE})
    write_wheel(directory, "fakeinit", "2.1.0", {"fakeinit/__init__.py": "",
                                                 "fakeinit/init.py": LECUN},
                requires=("fakedep>=1",))
    write_wheel(directory, "fakedep", "1.0.0", {"fakedep/__init__.py": ""})
    return directory


def history_arguments(house: Path, cache: Path) -> list[str]:
    """``history``'s options that check ``fakeinit`` from ``house`` with no index; the
    results store goes beside ``cache``."""
    return ["fakeinit", "--target", "fakeinit.init:he", "--api", "numpy", "--scheme", "he",
            "--dist", "normal", "--no-index", "--find-links", str(house), "--cache",
            str(cache), "--examples", "2", "--out", str(cache.with_name(f"{cache.name}-runs"))]
