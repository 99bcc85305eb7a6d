"""``assert_conforms``: this project's check as one assertion in your own test suite.

Example (pytest)::

    from verify import assert_conforms

    def test_my_init_is_he_normal():
        assert_conforms(my_init, scheme="he", dist="normal", api="torch")

On a deviation it raises ``AssertionError`` with the verdict table, the minimal
failing shape and a line that reproduces it.
"""

from __future__ import annotations

from hypothesis import strategies as st

from verify.conformance import DEFAULT_MAX_CALLS, Report, check
from verify.schemes import InitSpec
from verify.seeding import run_seed
from verify.stats import Verdict
from verify.strategies import weight_shapes
from verify.targets import _WRAPPERS, APIS


def assert_conforms(
    initializer,
    *,
    scheme: str,
    dist: str,
    api: str | None = None,
    layout: str | None = None,
    mode: str | None = None,
    gain: float | None = None,
    kwargs: dict | None = None,
    shapes: st.SearchStrategy[tuple[int, ...]] | None = None,
    seed: int | None = None,
    examples: int = 8,
    max_calls: int = DEFAULT_MAX_CALLS,
) -> Report:
    """Assert that ``initializer`` draws from ``scheme`` in ``dist`` at every shape.

    ``api=None``: ``initializer(shape, seed)`` returns an array (the sampler
    protocol). Otherwise ``api`` is one of ``torch``, ``numpy``, ``jax``, ``keras``,
    ``mlx``, ``tinygrad`` with the calling conventions of ``python -m verify check --api``
    (for ``tinygrad``, whose calls cost about 20 ms, pass ``max_calls=400``). Returns
    the :class:`~verify.conformance.Report` when it conforms.
    """
    if api is not None and api not in APIS:
        raise ValueError(f"unknown api {api!r}: use one of {', '.join(APIS)} or None")
    sampler = initializer if api is None else _WRAPPERS[api](initializer, kwargs or {}, "float32")
    layout = layout or (APIS[api] if api else "oihw")
    claim = InitSpec(scheme, dist, layout, mode, gain)
    seed = run_seed() if seed is None else seed
    name = getattr(initializer, "__name__", repr(initializer))
    arguments = f"scheme={scheme!r}, dist={dist!r}" + (f", api={api!r}" if api else "")
    report = check(sampler, claim, shapes=shapes or weight_shapes(layout=layout,
                                                                   max_numel=2**20),
                   seed=seed, max_examples=examples, name=name, max_calls=max_calls,
                   reproduce=f"assert_conforms({name}, {arguments}, "
                   f"shapes=hypothesis.strategies.just(({{shape}},)), seed={seed})")
    if report.verdict is not Verdict.PASS:
        raise AssertionError(f"{name} does not conform to {claim.describe()}:\n"
                             f"{report.table()}")
    return report
