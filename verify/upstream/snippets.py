"""Reproduction snippets, made into code that runs without this project.

Every :class:`~verify.adapters.Target` carries ``reproduce``: Python source, one line of
statements or several, with two placeholders, ``{shape}`` (a tuple) and ``{seed}`` (an
int). It imports only its library (and NumPy, which every library here depends on), may
call ``seed32(seed)``, which :data:`PRELUDE` defines the way :func:`verify.adapters.seed32`
does, and leaves ``w``: a NumPy array of the values ``target.sample(shape, seed)`` returns
(bfloat16 widened to float32). :func:`draw_function` makes it a function
``draw(seed)``; :mod:`verify.upstream.program` builds the whole reproduction around it.
"""

from __future__ import annotations

import textwrap

PRELUDE = '''\
import numpy as np


def seed32(seed):
    """A seed folded to 32 bits, for libraries whose seeds are 32-bit."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])
'''


def filled(snippet: str, shape: tuple[int, ...], seed: str | int = "seed") -> str:
    """``snippet`` with its placeholders replaced (``replace``, not ``format``: a snippet
    may hold other braces, a dict or a set)."""
    return snippet.replace("{shape}", repr(tuple(int(d) for d in shape))).replace(
        "{seed}", str(seed))


def draw_function(snippet: str, shape: tuple[int, ...], name: str = "draw") -> str:
    """Source of ``def draw(seed)``: the snippet at ``shape``, returning ``w``."""
    body = textwrap.indent(filled(snippet, shape).strip(), "    ")
    return f"def {name}(seed):\n{body}\n    return np.asarray(w)\n"


def run_snippet(snippet: str, shape: tuple[int, ...], seed: int):
    """Run ``snippet`` here (after :data:`PRELUDE`) and return its ``w``."""
    namespace: dict = {}
    exec(compile(PRELUDE + draw_function(snippet, shape), "<reproduce>", "exec"), namespace)
    return namespace["draw"](seed)
