"""Built-in specs for Hugging Face transformers models (v5), one TOML file per model class.

Each file, ``<ModelClass>.toml``, follows the grammar of :mod:`verify.audit.spec` and
covers every parameter and buffer of the model at the starting config of
:func:`starting_config`. A rule's ``source`` says where its law comes from: the
library's default init (``default``), the model's config and init code (``config``), or
the paper or the reference code its authors released (``paper``). Where the library's
documentation and its code disagree, the spec follows the code's evident intention and
records the disagreement in ``Spec.doc_mismatches``.
"""

from __future__ import annotations

from importlib import resources

from verify.audit.spec import Spec, parse_spec
from verify.audit.specs.configs import (
    STARTING_CONFIGS,
    build_starting_model,
    config_class_name,
    config_fields,
    starting_config,
)

BUILTIN_SPECS: tuple[str, ...] = tuple(sorted(
    entry.name.removesuffix(".toml") for entry in resources.files(__name__).iterdir()
    if entry.name.endswith(".toml")))
"""The model classes that have a built-in spec."""


def builtin_spec(model_class: str) -> Spec | None:
    """The built-in spec of a transformers model class (e.g. ``GPT2Model``), or None."""
    if model_class not in BUILTIN_SPECS:
        return None
    entry = resources.files(__name__) / f"{model_class}.toml"
    return parse_spec(entry.read_text(encoding="utf-8"),
                      f"verify/audit/specs/{model_class}.toml (built in)")


__all__ = ["BUILTIN_SPECS", "STARTING_CONFIGS", "build_starting_model", "builtin_spec",
           "config_class_name", "config_fields", "starting_config"]
