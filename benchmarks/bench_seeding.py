"""The cost of one ``sample`` call at a tiny shape, per adapter: at 4x3 the fill itself
costs a few microseconds, so this is mostly the adapter's per-call work, seeding the
library's generator first. A check of a small shape makes up to 20,000 such calls.

One param per adapter path (a catalog function, a layer, a user's function through
``--api``); an adapter whose library is not installed is skipped.
"""

from __future__ import annotations

from verify import catalog
from verify.adapters import LibraryMissing
from verify.targets import user_target

MODULE = f"{__package__}.user_inits" if __package__ else "user_inits"
SHAPE = (4, 3)
SEED = 2**62 + 12_345  # a seed as large as the checks draw

ADAPTERS: dict[str, tuple[str, str]] = {
    "torch function (generator=)": ("torch", "torch:kaiming_normal_"),
    "torch layer": ("torch", "torch:nn.Linear"),
    "torch user fn(tensor)": ("user torch", "he_normal"),
    "numpy user fn(shape, rng)": ("user numpy", "he_normal_numpy"),
    "jax function": ("jax", "jax:he_normal"),
    "jax user fn(key, shape, dtype)": ("user jax", "he_normal_jax"),
    "flax layer": ("flax", "flax:linen.Dense"),
    "keras function": ("keras", "keras:HeNormal"),
    "keras layer": ("keras", "keras:Dense"),
    "mlx function": ("mlx", "mlx:he_normal"),
    "mlx layer": ("mlx", "mlx:nn.Linear"),
    "sklearn": ("sklearn", "sklearn:MLPRegressor"),
}
"""Param -> (catalog library, or ``user <api>``; entry name, or a function of
``user_inits``)."""


def build(adapter: str):
    """The target of ``adapter``; NotImplementedError (asv's skip) if its library is
    not installed."""
    library, name = ADAPTERS[adapter]
    try:
        if library.startswith("user "):
            return user_target(f"{MODULE}:{name}", library.removeprefix("user "), {})
        found = catalog.load([library])
    except (ImportError, LibraryMissing) as error:
        raise NotImplementedError(str(error)) from None
    if library in found.skipped:
        raise NotImplementedError(found.skipped[library])
    return found.find(name).build()


class Seeding:
    """``target.sample((4, 3), seed)``: one call, with its seeding."""

    params = [list(ADAPTERS)]
    param_names = ["adapter"]

    def setup(self, adapter):
        self.target = build(adapter)
        self.target.sample(SHAPE, SEED)  # compiles, builds and caches outside the timing

    def time_sample(self, adapter):
        self.target.sample(SHAPE, SEED)
