"""The documented config semantics of a transformers model that has no built-in spec.

``PreTrainedModel._init_weights`` (``transformers/modeling_utils.py``) is the library's
generic init, "quite general on purpose" (its docstring): it draws the weight of every
``nn.Linear``, ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d`` and ``nn.Embedding`` from
N(0, std²), zeroes their biases and an embedding's padding row, and sets the weights of
the norms (``GroupNorm``, ``BatchNorm``, any class whose name holds ``LayerNorm`` or
``RMSNorm``) to ones and their biases to zeros. ``std`` is the config's
``initializer_range`` (0.02 when it is unset), else its ``init_std``, else its
``initializer_factor``, else the text config's ``initializer_range``, else 0.02; the
configs document ``initializer_range`` as "the standard deviation of the
truncated_normal_initializer for initializing all weight matrices".

A model class that overrides ``_init_weights`` has a scheme of its own, which only its
code states: without a built-in spec, the audit compares its tensors with their layers'
framework defaults and runs the anomaly checks. Each sub-model of a composite model is
initialized by its own class (``PreTrainedModel.initialize_weights`` dispatches to the
nearest ``PreTrainedModel`` above each module), so :func:`generic_spec` writes rules for
the modules whose nearest model class keeps the generic init: one rule per tensor-name
pattern (layer indices written ``*``), its std an expression of that model's config
field (``text_config.initializer_range``), so that the configs hypothesis draws are held
to the same semantics. A pattern whose tensors do not all get one law (a hybrid model's
layers) gets no rule.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Mapping
from typing import Any

from verify.audit.spec import Spec, parse_spec

ORIGIN = "transformers PreTrainedModel._init_weights (generic init, derived per model)"
DRAWN = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d")
"""The ``torch.nn`` classes whose weights the generic init draws from N(0, std²)."""
NORMS = ("GroupNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d")


def generic_init_url() -> str:
    """``PreTrainedModel._init_weights`` at the installed release's tag, with its lines."""
    import transformers
    from transformers import PreTrainedModel

    lines, first = inspect.getsourcelines(PreTrainedModel._init_weights)
    return (f"https://github.com/huggingface/transformers/blob/v{transformers.__version__}/"
            f"src/transformers/modeling_utils.py#L{first}-L{first + len(lines) - 1} "
            "(PreTrainedModel._init_weights)")


def keeps_generic_init(model_type: type) -> bool:
    """Does this ``PreTrainedModel`` class keep the library's generic init?"""
    from transformers import PreTrainedModel

    return getattr(model_type, "_init_weights", None) is PreTrainedModel._init_weights


def config_path(top, target) -> str | None:
    """Where ``target`` sits in ``top`` (a config and its sub-configs): ``""`` for
    ``top`` itself, ``"text_config."`` for a sub-config; None if it is not there."""
    if target is top:
        return ""
    for key, value in vars(top).items():
        if hasattr(value, "to_dict") and hasattr(value, "attribute_map"):
            below = config_path(value, target)
            if below is not None:
                return f"{key}.{below}"
    return None


def _by_value(top, target) -> str | None:
    """:func:`config_path` by equal fields, for a sub-model that holds a copy."""
    wanted = _comparable(target)
    if _comparable(top) == wanted:
        return ""
    for key, value in vars(top).items():
        if hasattr(value, "to_dict") and hasattr(value, "attribute_map"):
            below = _by_value(value, target)
            if below is not None:
                return f"{key}.{below}"
    return None


def _comparable(config) -> dict:
    return {k: v for k, v in config.to_dict().items()
            if not k.startswith("_") and k not in ("dtype", "architectures")}


def std_expression(top, config) -> tuple[str, str, float] | None:
    """The generic init's std for a model whose config is ``config``: ``(prefix,
    expression, value)``, the expression over the fields of ``top`` (the audited model's
    config), ``prefix`` where ``config`` sits in it; None if it is not in ``top``."""
    prefix = config_path(top, config)
    if prefix is None:
        prefix = _by_value(top, config)
    if prefix is None:
        return None
    if hasattr(config, "initializer_range"):
        if not config.initializer_range:
            return prefix, "0.02", 0.02
        return prefix, f"{prefix}initializer_range", float(config.initializer_range)
    for name in ("init_std", "initializer_factor"):
        if hasattr(config, name):
            return prefix, f"{prefix}{name}", float(getattr(config, name))
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if text is not config and getattr(text, "initializer_range", None):
        inner = config_path(top, text)
        if inner is not None:
            return prefix, f"{inner}initializer_range", float(text.initializer_range)
    return prefix, "0.02", 0.02


def pattern(name: str) -> str:
    """A tensor's name with every integer component written ``*``."""
    return re.sub(r"(?<![^.])\d+(?![^.])", "*", name)


def _laws(model) -> dict[str, tuple[str, str, str | None]]:
    """Each tensor the generic init covers: ``(law, source, padding_row)``, by name."""
    from torch import nn
    from transformers import PreTrainedModel

    from verify.audit.specs.configs import config_fields

    top = model.config
    laws: dict[str, tuple[str, str, str | None]] = {}
    stds: dict[int, tuple[str, str, float] | None] = {}
    fields = config_fields(top)

    def visit(module, prefix: str, owner) -> None:
        if isinstance(module, PreTrainedModel):
            owner = module
        if keeps_generic_init(type(owner)):
            if id(owner) not in stds:
                found = std_expression(top, owner.config)
                if found is not None and not _reads_number(found[1], fields):
                    found = (found[0], repr(found[2]), found[2])  # a property, not a field
                stds[id(owner)] = found
            if stds[id(owner)] is not None:
                config_prefix, std, _ = stds[id(owner)]
                _cover(module, prefix, std, config_prefix, owner.config, laws, nn)
        for name, child in module.named_children():
            visit(child, f"{prefix}{name}.", owner)

    visit(model, "", model)
    return laws


def _cover(module, prefix: str, std: str, config_prefix: str, config, laws: dict,
           nn) -> None:
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    drawn = f"normal(mean=0, std={std})"
    if isinstance(module, tuple(getattr(nn, n) for n in DRAWN)):
        if isinstance(weight, nn.Parameter):
            laws[f"{prefix}weight"] = (drawn, "config", None)
        if isinstance(bias, nn.Parameter):
            laws[f"{prefix}bias"] = ("zeros()", "default", None)
    elif isinstance(module, nn.LSTM | nn.MultiheadAttention):
        return  # xavier_uniform_ and PyTorch's own init: the layers' registry has them
    elif isinstance(module, nn.Embedding):
        if isinstance(weight, nn.Parameter):
            padding = None
            if module.padding_idx is not None:
                padding = f"{config_prefix}pad_token_id" \
                    if getattr(config, "pad_token_id", None) == module.padding_idx \
                    else str(int(module.padding_idx))
            laws[f"{prefix}weight"] = (drawn, "config", padding)
    elif isinstance(module, tuple(getattr(nn, n) for n in NORMS)) \
            or "LayerNorm" in type(module).__name__ or "RMSNorm" in type(module).__name__:
        if isinstance(weight, nn.Parameter):
            laws[f"{prefix}weight"] = ("ones()", "default", None)
        if isinstance(bias, nn.Parameter):
            laws[f"{prefix}bias"] = ("zeros()", "default", None)


def generic_spec(model_class: str, overrides: Mapping[str, Any] | None = None) -> Spec | None:
    """The spec of the generic init for ``transformers.<model_class>`` at its starting
    config with ``overrides``, or None when no module of it keeps the generic init (or
    the model does not build). It is built once, on PyTorch's meta device where it can
    be."""
    import torch

    from verify.audit import hf

    cls = hf.model_class(model_class)
    config = hf.make_config(model_class, overrides or {})
    try:
        try:
            with torch.device("meta"):
                model = cls(copy.deepcopy(config))
        except Exception as error:
            if "meta" not in str(error):
                raise
            model = cls(copy.deepcopy(config))  # Tensor.item() in a drop-path schedule
    except Exception:
        return None  # the audit's own build reports it
    laws = _laws(model)
    if not laws:
        return None
    names = [name for name, _ in [*model.named_parameters(remove_duplicate=False),
                                  *model.named_buffers(remove_duplicate=False)]]
    groups: dict[str, set] = {}
    for name in names:
        groups.setdefault(pattern(name), set()).add(laws.get(name))
    rules = {glob: next(iter(found)) for glob, found in groups.items()
             if len(found) == 1 and None not in found}
    if not rules:
        return None
    citation = generic_init_url()
    lines = ["[spec]", f"model = {json.dumps(model_class)}",
             f"description = {json.dumps('the generic init of PreTrainedModel._init_weights')}",
             'source = "config"', f"citation = {json.dumps(citation)}", ""]
    for glob, (law, source, padding) in sorted(rules.items()):
        lines += ["[[rule]]", f"glob = {json.dumps(glob)}", f"law = {json.dumps(law)}",
                  f"source = {json.dumps(source)}"]
        if padding is not None:
            lines.append(f"padding_row = {json.dumps(padding)}")
        lines.append("")
    drawn = sorted(glob for glob, (law, _, _) in rules.items() if law.startswith("normal"))
    documented = cls.config_class.__doc__ or ""
    if drawn and "truncated_normal_initializer" in documented:
        lines += ["[[doc_mismatch]]", f"tensors = {json.dumps(', '.join(drawn))}",
                  "detail = " + json.dumps(
                      f"{cls.config_class.__name__} documents its init std as that of a "
                      "'truncated_normal_initializer for initializing all weight matrices'; "
                      "the generic init draws a plain, untruncated normal. The spec follows "
                      "the code."),
                  f"doc = {json.dumps(cls.config_class.__name__ + ' docstring')}",
                  f"code = {json.dumps(citation)}", ""]
    return parse_spec("\n".join(lines), ORIGIN)


def _reads_number(expression: str, fields: Mapping[str, Any]) -> bool:
    """Does ``expression`` (a number or a dotted field name) read a number in
    ``fields``?"""
    if re.fullmatch(r"[\d.]+", expression):
        return True
    value: Any = fields
    for part in expression.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return isinstance(value, int | float) and not isinstance(value, bool)
