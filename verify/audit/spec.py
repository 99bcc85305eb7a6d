"""Spec files: the law each tensor of a model should follow, written by hand.

A spec is a TOML file that maps tensor names to laws, with the laws' parameters
written as expressions over the model's config fields::

    "h.*.attn.c_proj.weight" = "normal(mean=0, std=initializer_range / sqrt(2 * n_layer))"
    "**.bias" = "zeros()"                    # (TOML: keys after a [table] header belong
                                             # to that table, so these come first)
    [spec]                                   # optional: about the whole file
    model = "GPT2Model"
    source = "config"                        # default source of every rule ("spec")
    citation = "https://..."                 # default citation of every rule

    [[rule]]                                 # the long form, with its own source and notes
    glob = "wte.weight"
    law = "normal(std=initializer_range)"
    source = "paper"                         # default | config | paper | spec
    citation = "https://arxiv.org/abs/..., sec. 2"
    note = "free text"
    padding_row = "pad_token_id"             # this row is zeros (an expression; None: no row)

    [[doc_mismatch]]                         # where documentation and code disagree
    tensors = "**.weight"
    detail = "the docstring says truncated normal; the code draws a plain normal"
    doc = "https://..."
    code = "https://..."

Every top-level key other than ``spec``, ``rule`` and ``doc_mismatch`` is a glob and its
string value the law. An unquoted dotted key (``wte.weight = "..."``) and a table
(``[h]``) nest in TOML; their components are joined back with dots.

**Globs** match a tensor's whole dotted name, e.g. ``h.3.attn.c_proj.weight``:

* ``*`` matches within one dotted component (any characters but ``.``), ``?`` one
  character of a component;
* ``**`` as a whole component matches zero or more whole components (``**.bias``
  matches ``bias`` and ``h.0.attn.bias``); ``**`` inside a component matches any
  characters, dots included;
* ``{q,k,v}_proj`` matches any one of the alternatives, which stay inside one component;
* everything else is literal (there are no ``[...]`` character classes).

**Precedence.** When several globs match a tensor, the most specific one wins: fewest
``**``, then fewest ``*`` and ``?``, then fewest ``{...}`` alternatives, then the most
literal characters (counting the shortest alternative of a ``{...}``); a remaining tie
goes to the rule written first in the file. The order in the file matters only for ties.
A tensor with several names (tied weights) takes the best rule over all its names.

**Laws** (keyword arguments, any order; ``mean`` defaults to 0):

* ``normal(mean=, std=)``: ``N(mean, std^2)``; ``std`` is the standard deviation.
  ``normal(mean=, variance=)`` gives the variance instead (exactly one of the two);
* ``uniform(low=, high=)``, or ``uniform(bound=)`` for ``U(-bound, bound)``;
* ``truncated_normal(mean=, std=, low=, high=)``: ``N(mean, std^2)`` cut to the ABSOLUTE
  bounds ``[low, high]`` (as ``torch.nn.init.trunc_normal_``'s ``a``, ``b``); or
  ``truncated_normal(mean=, std=, a=, b=)`` with the bounds in units of ``std`` around
  the mean (as ``scipy.stats.truncnorm``: ``low = mean + a * std``). ``std`` (or
  ``variance``) is that of the normal BEFORE truncation. The bounds have no default;
* ``constant(value)``, ``zeros()``, ``ones()``;
* ``own()`` or ``any()``: the model's own scheme, no expectation (the tensor is covered,
  :meth:`Spec.law_for` returns None). For buffers such as position ids or masks.

**Expressions**: numbers, config field names (``text_config.hidden_size`` reaches into a
nested config), ``+ - * / **``, unary minus, parentheses, ``sqrt``, ``log`` (natural),
``exp``, ``min``, ``max``, and ``layer``: the index of the tensor's layer, the first
component of its name that is an integer (``h.3.attn`` -> 3). Booleans count as 0 and 1.
They are evaluated in floating point by a whitelist over :mod:`ast`; nothing else runs.

**Errors** are :class:`SpecError` with one line ``FILE:LINE:COL: what is wrong``.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.laws import SOURCES, TensorLaw

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LAW_NAMES = ("normal", "uniform", "truncated_normal", "constant", "zeros", "ones", "own", "any")
FUNCTIONS = {"sqrt": (math.sqrt, 1), "log": (math.log, 1), "exp": (math.exp, 1),
             "min": (min, 2), "max": (max, 2)}
"""name -> (function, least number of arguments); sqrt, log and exp take exactly one."""
LAYER = "layer"

_SPEC_KEYS = ("model", "description", "source", "citation")
_RULE_KEYS = ("glob", "law", "source", "citation", "note", "padding_row")
_MISMATCH_KEYS = ("tensors", "detail", "doc", "code")
_RESERVED = ("spec", "rule", "doc_mismatch")


class SpecError(ValueError):
    """A spec file that cannot be read or used, as ``FILE:LINE:COL: what is wrong``."""

    def __init__(self, origin: str, line: int, column: int, message: str) -> None:
        self.origin, self.line, self.column = origin, line, column
        self.message = " ".join(message.split())
        super().__init__(f"{origin}:{line}:{column}: {self.message}")


@dataclass(frozen=True)
class _Place:
    origin: str
    line: int
    column: int

    def error(self, message: str, offset: int = 0) -> SpecError:
        return SpecError(self.origin, self.line, self.column + offset, message)


# --- globs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Glob:
    regex: re.Pattern
    specificity: tuple[int, int, int, int]
    """(``**`` count, ``*``/``?`` count, ``{...}`` count, -literal characters): smaller wins."""


def _component_regex(component: str, place: _Place) -> tuple[str, list[int]]:
    """The regex of one dotted component, and counts [``**``, ``*``/``?``, ``{}``, literals]."""
    counts = [0, 0, 0, 0]
    regex, position = [], 0
    while position < len(component):
        char = component[position]
        if component.startswith("**", position):
            regex.append(".*")
            counts[0] += 1
            position += 2
            continue
        if char == "*":
            regex.append("[^.]*")
            counts[1] += 1
        elif char == "?":
            regex.append("[^.]")
            counts[1] += 1
        elif char == "{":
            end = component.find("}", position)
            if end < 0:
                raise place.error(f"glob {component!r}: '{{' without '}}' in its component "
                                  "(alternatives cannot contain '.')")
            options = component[position + 1:end].split(",")
            if any(not option or set(option) & set("*?{") for option in options):
                raise place.error(f"glob {component!r}: each alternative in {{...}} must be "
                                  "non-empty literal text")
            regex.append("(?:" + "|".join(re.escape(option) for option in options) + ")")
            counts[2] += 1
            counts[3] += min(len(option) for option in options)
            position = end + 1
            continue
        elif char == "}":
            raise place.error(f"glob {component!r}: '}}' without '{{'")
        else:
            regex.append(re.escape(char))
            counts[3] += 1
        position += 1
    return "".join(regex), counts


def compile_glob(glob: str, place: _Place | None = None) -> _Glob:
    """Translate a glob of the spec grammar (see the module docstring) to a regex."""
    place = place or _Place("<glob>", 1, 1)
    components = glob.split(".")
    if any(component == "" for component in components):
        raise place.error(f"glob {glob!r} has an empty component (two dots, or a dot at an end)")
    collapsed = [c for i, c in enumerate(components)
                 if not (c == "**" and i > 0 and components[i - 1] == "**")]
    if all(component == "**" for component in collapsed):
        return _Glob(re.compile(".+"), (1, 0, 0, 0))
    totals = [0, 0, 0, 0]
    regex, need_dot = "", False
    for component in collapsed:
        if component == "**":
            totals[0] += 1
            if regex:
                regex += r"(?:\.[^.]+)*"
            else:
                regex = r"(?:[^.]+\.)*"
            continue
        piece, counts = _component_regex(component, place)
        totals = [total + count for total, count in zip(totals, counts, strict=True)]
        regex += (r"\." if need_dot else "") + piece
        need_dot = True
    return _Glob(re.compile(regex), (totals[0], totals[1], totals[2], -totals[3]))


def layer_index(name: str) -> int | None:
    """The first integer component of a dotted tensor name (``h.3.attn.weight`` -> 3)."""
    for component in name.split("."):
        if component.isdigit():
            return int(component)
    return None


# --- expressions -----------------------------------------------------------------------


def _check_expression(node: ast.AST, place: _Place) -> None:
    """Refuse, at parse time, every node outside the grammar's whitelist."""
    def refuse(what: str, at: ast.AST) -> SpecError:
        return place.error(f"{what} is not allowed in an expression (use numbers, config "
                           "fields, + - * / **, sqrt, log, exp, min, max)",
                           getattr(at, "col_offset", 0))

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise refuse(f"the constant {node.value!r}", node)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise place.error(f"{node.id} is a function: call it, e.g. {node.id}(x)",
                              node.col_offset)
    elif isinstance(node, ast.Attribute):
        base = node.value
        while isinstance(base, ast.Attribute):
            base = base.value
        if not isinstance(base, ast.Name):
            raise refuse("this attribute access", node)
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow):
            raise refuse(f"the operator {type(node.op).__name__}", node)
        _check_expression(node.left, place)
        _check_expression(node.right, place)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise refuse(f"the operator {type(node.op).__name__}", node)
        _check_expression(node.operand, place)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = f"function {node.func.id!r}" if isinstance(node.func, ast.Name) else "call"
            raise place.error(f"unknown {name}: only {', '.join(FUNCTIONS)} can be called",
                              node.col_offset)
        least = FUNCTIONS[node.func.id][1]
        exact = node.func.id in ("sqrt", "log", "exp")
        if node.keywords or (len(node.args) != least if exact else len(node.args) < least):
            wanted = "one argument" if exact else "two or more arguments"
            raise place.error(f"{node.func.id} takes {wanted}", node.col_offset)
        for argument in node.args:
            _check_expression(argument, place)
    else:
        raise refuse(type(node).__name__, node)


def _dotted(node: ast.AST) -> str:
    return f"{_dotted(node.value)}.{node.attr}" if isinstance(node, ast.Attribute) else node.id


class _Evaluator:
    """Evaluates a checked expression against a config and a layer index, in floats."""

    def __init__(self, config: Mapping[str, Any], layer: int | None, tensor: str,
                 place: _Place) -> None:
        self.config, self.layer, self.tensor, self.place = config, layer, tensor, place

    def number(self, node: ast.AST) -> float:
        value = self.value(node)
        if not isinstance(value, int | float):  # bool is an int
            name = _dotted(node) if isinstance(node, ast.Name | ast.Attribute) else "a value"
            raise self.place.error(f"config field {name!r} is {value!r}, not a number",
                                   node.col_offset)
        try:
            value = float(value)
        except OverflowError:
            raise self.place.error(f"{value} is too large", node.col_offset) from None
        if not math.isfinite(value):
            what = (f"config field {_dotted(node)!r}" if isinstance(node, ast.Name | ast.Attribute)
                    else "this number")
            raise self.place.error(f"{what} is {value}, not finite", node.col_offset)
        return value

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name | ast.Attribute):
            return self.lookup(node)
        try:
            if isinstance(node, ast.UnaryOp):
                operand = self.number(node.operand)
                return -operand if isinstance(node.op, ast.USub) else operand
            if isinstance(node, ast.BinOp):
                left, right = self.number(node.left), self.number(node.right)
                operations = {ast.Add: float.__add__, ast.Sub: float.__sub__,
                              ast.Mult: float.__mul__, ast.Div: float.__truediv__,
                              ast.Pow: float.__pow__}
                result = operations[type(node.op)](left, right)
            else:  # ast.Call, checked at parse time
                function = FUNCTIONS[node.func.id][0]
                result = function(*(self.number(argument) for argument in node.args))
        except SpecError:
            raise
        except OverflowError:
            raise self.place.error("cannot evaluate: the result is too large",
                                   node.col_offset) from None
        except (ZeroDivisionError, ValueError) as error:
            raise self.place.error(f"cannot evaluate: {error}", node.col_offset) from None
        if isinstance(result, complex) or not math.isfinite(result):
            raise self.place.error(f"the expression evaluates to {result}, not a finite "
                                   "real number", node.col_offset)
        return float(result)

    def lookup(self, node: ast.Name | ast.Attribute) -> Any:
        if isinstance(node, ast.Name) and node.id == LAYER:
            if self.layer is None:
                raise self.place.error(f"the law uses `layer` but tensor {self.tensor!r} has "
                                       "no integer component to take it from", node.col_offset)
            return self.layer
        if isinstance(node, ast.Name):
            scope, key, where = self.config, node.id, "the config"
        else:
            scope = self.lookup(node.value)
            key, where = node.attr, f"config field {_dotted(node.value)!r}"
            if not isinstance(scope, Mapping):
                raise self.place.error(f"{where} is {scope!r}, not a nested config",
                                       node.col_offset)
        if key not in scope:
            fields = sorted(str(name) for name in scope)
            listed = ", ".join(fields[:12]) + (", ..." if len(fields) > 12 else "")
            raise self.place.error(f"config field {_dotted(node)!r} is not in {where} "
                                   f"(it has: {listed or 'nothing'})", node.col_offset)
        return scope[key]


# --- laws ------------------------------------------------------------------------------

_LAW_FORMS = {
    "normal": "normal(mean=0, std=S) or normal(mean=0, variance=V)",
    "uniform": "uniform(low=L, high=H) or uniform(bound=B)",
    "truncated_normal": "truncated_normal(mean=0, std=S, low=L, high=H) with absolute bounds, "
                        "or truncated_normal(mean=0, std=S, a=A, b=B) with bounds in std units",
    "constant": "constant(V)",
}
_SCALES = {"normal": ("std", "variance"), "truncated_normal": ("std", "variance"),
           "constant": ("value",), "uniform": ()}
_BOUNDS = {"uniform": (("low", "high"), ("bound",)),
           "truncated_normal": (("low", "high"), ("a", "b"))}
_MEANS = ("normal", "truncated_normal")


def _check_law(tree: ast.Expression, place: _Place) -> tuple[str, dict[str, ast.AST]]:
    """The law's name and its arguments, after checking them against the grammar."""
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise place.error(f"a law is a call such as normal(std=0.02), one of "
                          f"{', '.join(LAW_NAMES)}; got {ast.unparse(call)!r}")
    name = call.func.id
    if name not in LAW_NAMES:
        raise place.error(f"unknown law {name!r}: use one of {', '.join(LAW_NAMES)}",
                          call.col_offset)
    form = _LAW_FORMS.get(name, f"{name}() takes no arguments")
    arguments: dict[str, ast.AST] = {}
    if name == "constant" and len(call.args) == 1 and not call.keywords:
        arguments["value"] = call.args[0]
    elif call.args:
        raise place.error(f"{name} takes keyword arguments only: {form}" if name in _LAW_FORMS
                          else form, call.args[0].col_offset)
    allowed = {*_SCALES.get(name, ()), *(key for group in _BOUNDS.get(name, ())
                                         for key in group)}
    allowed |= {"mean"} if name in _MEANS else set()
    for keyword in call.keywords:
        if keyword.arg not in allowed or keyword.arg in arguments:
            problem = "twice" if keyword.arg in arguments else "unknown"
            raise place.error(f"{name}: argument {keyword.arg!r} {problem}: {form}",
                              keyword.value.col_offset)
        arguments[keyword.arg] = keyword.value
    scales = _SCALES.get(name, ())
    if scales and sum(key in arguments for key in scales) != 1:
        raise place.error(f"{name} needs exactly one of {' or '.join(scales)}: {form}",
                          call.col_offset)
    if name in _BOUNDS:
        complete = [group for group in _BOUNDS[name] if all(key in arguments for key in group)]
        started = [group for group in _BOUNDS[name] if any(key in arguments for key in group)]
        if len(complete) != 1 or len(started) != 1:
            raise place.error(f"{name} needs its bounds in one of two forms: {form}",
                              call.col_offset)
    for value in arguments.values():
        _check_expression(value, place)
    return name, arguments


# --- rules and the spec ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One glob and the law every tensor it matches should follow."""

    glob: str
    law: str
    """The law as written, e.g. ``normal(std=initializer_range / sqrt(2 * n_layer))``."""
    source: str = "spec"
    citation: str = ""
    note: str = ""
    padding_row: str | None = None
    """An expression for the index of a row that is zeros (an embedding's padding row)."""
    origin: str = ""
    line: int = 0
    column: int = 0
    _glob: _Glob = field(repr=False, compare=False)
    _name: str = field(repr=False, compare=False)
    _arguments: dict[str, ast.AST] = field(repr=False, compare=False)
    _law_place: _Place = field(repr=False, compare=False)
    _padding: ast.AST | None = field(default=None, repr=False, compare=False)
    _padding_place: _Place | None = field(default=None, repr=False, compare=False)

    def matches(self, name: str) -> bool:
        return self._glob.regex.fullmatch(name) is not None

    @property
    def exempt(self) -> bool:
        """``own()`` / ``any()``: the tensor is covered, with no expectation."""
        return self._name in ("own", "any")

    @property
    def specificity(self) -> tuple[int, ...]:
        return (*self._glob.specificity, self.line, self.column)

    def expected_law(self, config: Mapping[str, Any], *, layer: int | None = None,
                     tensor: str = "") -> TensorLaw | None:
        """The law with its expressions evaluated; None for ``own()`` / ``any()``."""
        if self.exempt:
            return None
        evaluator = _Evaluator(config, layer, tensor or self.glob, self._law_place)
        values = {key: evaluator.number(node) for key, node in self._arguments.items()}
        where = {"source": self.source, "citation": self.citation, "rule": self.law}
        mean = values.get("mean", 0.0)
        std = values.get("std")
        if "variance" in values:
            if values["variance"] < 0:
                raise self._law_place.error(f"variance is {values['variance']:g}, negative")
            std = math.sqrt(values["variance"])
        try:
            if self._name == "normal":
                return TensorLaw(family="normal", mean=mean, std=std, **where)
            if self._name == "uniform":
                if "bound" in values:
                    return TensorLaw(family="uniform", low=-values["bound"],
                                     high=values["bound"], **where)
                return TensorLaw(family="uniform", low=values["low"], high=values["high"],
                                 **where)
            if self._name == "truncated_normal":
                if "a" in values:
                    low, high = mean + values["a"] * std, mean + values["b"] * std
                else:
                    low, high = values["low"], values["high"]
                return TensorLaw(family="truncated_normal", mean=mean, std=std, low=low,
                                 high=high, **where)
            constant = {"zeros": 0.0, "ones": 1.0}.get(self._name, values.get("value"))
            return TensorLaw(family="constant", value=constant, **where)
        except ValueError as error:
            raise self._law_place.error(f"{self.law}: {error}") from None

    def padding_index(self, config: Mapping[str, Any]) -> int | None:
        """The row that ``padding_row`` names, or None (no such key, or it is None)."""
        if self._padding is None:
            return None
        value = _Evaluator(config, None, self.glob, self._padding_place).value(self._padding)
        if value is None:
            return None
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not float(value).is_integer() or value < 0):
            raise self._padding_place.error(f"padding_row is {value!r}, not a row index")
        return int(value)


@dataclass(frozen=True, kw_only=True)
class DocMismatch:
    """Where a library's documentation and its code disagree about some tensors.

    ``detail`` says which of the two the spec follows (usually the code's evident
    intention); ``doc`` and ``code`` cite both.
    """

    tensors: str
    detail: str
    doc: str
    code: str


@dataclass(frozen=True, kw_only=True)
class Spec:
    """The rules of one spec file. See the module docstring for the grammar."""

    origin: str
    rules: tuple[Rule, ...]
    doc_mismatches: tuple[DocMismatch, ...] = ()
    model: str = ""
    description: str = ""

    def _best(self, names: Sequence[str]) -> tuple[Rule, str] | None:
        if isinstance(names, str):
            names = (names,)
        matches = [(rule, name) for name in names for rule in self.rules if rule.matches(name)]
        if not matches:
            return None
        return min(matches, key=lambda match: match[0].specificity)

    def rule_for(self, names: Sequence[str]) -> Rule | None:
        """The rule that wins for a tensor known by ``names``; None if no glob matches."""
        best = self._best(names)
        return best[0] if best else None

    def law_for(self, names: Sequence[str], config: Mapping[str, Any], *,
                layer: int | None = None) -> TensorLaw | None:
        """The law a tensor known by ``names`` should follow under ``config``.

        None when no rule matches it or when its rule is ``own()`` / ``any()`` (tell
        them apart with :meth:`rule_for`). ``layer`` overrides the index read from the
        matching name. Raises :class:`SpecError` for a config field the config lacks.
        """
        best = self._best(names)
        if best is None:
            return None
        rule, name = best
        return rule.expected_law(config, layer=layer if layer is not None else layer_index(name),
                                 tensor=name)

    def unmatched(self, all_names: Iterable[str]) -> list[str]:
        """The globs that match none of ``all_names`` (the caller warns about them)."""
        names = list(all_names)
        return [rule.glob for rule in self.rules if not any(rule.matches(n) for n in names)]


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _KeyPlace:
    line: int
    key_column: int
    value_column: int | None = None
    """1-based column of the first character of the value (its opening quote)."""
    raw: str = ""


def _split_key(line: str) -> tuple[str, int] | None:
    """The key text of ``key = value`` and the 0-based index just after ``=``."""
    quote = None
    position = 0
    while position < len(line):
        char = line[position]
        if quote:
            if char == "\\" and quote == '"':
                position += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "=":
            return line[:position], position + 1
        elif char == "#":
            return None
        position += 1
    return None


def _path_of(toml_text: str) -> tuple[str, ...] | None:
    """The key path that one TOML line (a key or a table header) declares."""
    try:
        data: Any = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        key, data = next(iter(data.items()))
        path.append(key)
        if isinstance(data, list):
            break
    return tuple(path)


def _index_keys(text: str) -> tuple[dict[tuple, _KeyPlace], list[_KeyPlace]]:
    """Where each key path is declared in ``text``, and where a key is declared twice.

    Array-of-tables entries count in the path by index: ``("rule", 2, "law")``.
    """
    index: dict[tuple, _KeyPlace] = {}
    duplicates: list[_KeyPlace] = []
    table: tuple = ()
    arrays: dict[tuple, int] = {}
    in_multiline = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        stripped = line.strip()
        column = len(line) - len(line.lstrip()) + 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            path = _path_of(stripped)
            if path is None:
                continue
            if stripped.startswith("[["):
                arrays[path] = arrays.get(path, -1) + 1
                path = (*path, arrays[path])
            table = path
            index.setdefault(path, _KeyPlace(number, column))
            continue
        split = _split_key(line)
        if split is None:
            continue
        key_text, after = split
        for delimiter in ('"""', "'''"):
            if line.count(delimiter) % 2 == 1:
                in_multiline = delimiter
        path = _path_of(key_text + " = 0")
        if path is None:
            continue
        value_start = after + len(line[after:]) - len(line[after:].lstrip())
        place = _KeyPlace(number, column, value_start + 1, line)
        full = (*table, *path)
        if full in index:
            duplicates.append(place)
        index.setdefault(full, place)
    return index, duplicates


def _toml_error(error: tomllib.TOMLDecodeError, text: str, origin: str,
                duplicates: list[_KeyPlace]) -> SpecError:
    message = str(error)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        return SpecError(origin, int(match[1]), int(match[2]),
                         f"invalid TOML: {message[:match.start()]}")
    message = re.sub(r"\s*\(at end of document\)$", "", message)
    if "overwrite" in message and duplicates:
        place = duplicates[0]
        return SpecError(origin, place.line, place.key_column,
                         f"invalid TOML: {message} (this key is declared twice)")
    lines = text.splitlines() or [""]
    return SpecError(origin, len(lines), len(lines[-1]) + 1,
                     f"invalid TOML: {message} (at the end of the file)")


def _parse_expression(text: str, place: _Place, what: str) -> ast.Expression:
    indent = len(text) - len(text.lstrip())
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise place.error(f"cannot parse {what} {text.strip()!r}: {error.msg}",
                          indent + (error.offset or 1) - 1) from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise place.error(f"cannot parse {what}: {error}") from None


class _Reader:
    def __init__(self, text: str, origin: str) -> None:
        self.text, self.origin = text, origin
        self.index, self.duplicates = _index_keys(text)

    def place(self, path: tuple) -> _Place:
        where = self.index.get(path)
        while where is None and len(path) > 1:
            path = path[:-1]
            where = self.index.get(path)
        return _Place(self.origin, where.line, where.key_column) if where else _Place(
            self.origin, 1, 1)

    def value_place(self, path: tuple, value: str) -> _Place:
        """Where the text of a string value starts, when the file holds it verbatim."""
        where = self.index.get(path)
        if where is None or where.value_column is None:
            return self.place(path)
        start = where.value_column  # 1-based column of the opening quote
        if where.raw[start - 1:start] in "\"'" and where.raw[start:start + len(value)] == value:
            return _Place(self.origin, where.line, start + 1)
        return _Place(self.origin, where.line, where.value_column)

    def string(self, table: Mapping, key: str, path: tuple, *, required: bool = True) -> str:
        if key not in table:
            if required:
                raise self.place(path).error(f"missing key {key!r}")
            return ""
        value = table[key]
        if not isinstance(value, str):
            raise self.place((*path, key)).error(f"{key!r} must be a string, got {value!r}")
        return value

    def check_keys(self, table: Any, allowed: tuple[str, ...], path: tuple, what: str) -> None:
        if not isinstance(table, dict):
            raise self.place(path).error(f"{what} must be a table")
        for key in table:
            if key not in allowed:
                hint = ("; a rule written after a [table] header belongs to that table, "
                        "write it before the first header") if set(key) & set(".*{") else ""
                raise self.place((*path, key)).error(
                    f"unknown key {key!r} in {what}: use {', '.join(allowed)}{hint}")

    def rule(self, glob: str, law: str, *, glob_path: tuple, law_path: tuple,
             defaults: Mapping[str, str], extra: Mapping[str, Any]) -> Rule:
        glob_place = self.place(glob_path)
        compiled = compile_glob(glob, glob_place)
        law_place = self.value_place(law_path, law)
        tree = _parse_expression(law, law_place, "the law")
        name, arguments = _check_law(tree, law_place)
        source = extra.get("source") or defaults["source"]
        if source not in SOURCES:
            raise self.place((*law_path[:-1], "source")).error(
                f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
        padding, padding_place = None, None
        if extra.get("padding_row"):
            padding_path = (*law_path[:-1], "padding_row")
            padding_place = self.value_place(padding_path, extra["padding_row"])
            padding = _parse_expression(extra["padding_row"], padding_place, "padding_row").body
            _check_expression(padding, padding_place)
        return Rule(glob=glob, law=law, source=source,
                    citation=extra.get("citation") or defaults["citation"],
                    note=extra.get("note", ""), padding_row=extra.get("padding_row") or None,
                    origin=self.origin, line=glob_place.line, column=glob_place.column,
                    _glob=compiled, _name=name, _arguments=arguments, _law_place=law_place,
                    _padding=padding, _padding_place=padding_place)

    def spec(self) -> Spec:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as error:
            raise _toml_error(error, self.text, self.origin, self.duplicates) from None
        header = data.get("spec", {})
        self.check_keys(header, _SPEC_KEYS, ("spec",), "[spec]")
        defaults = {"source": self.string(header, "source", ("spec",), required=False) or "spec",
                    "citation": self.string(header, "citation", ("spec",), required=False)}
        if defaults["source"] not in SOURCES:
            raise self.place(("spec", "source")).error(
                f"unknown source {defaults['source']!r}: use one of {', '.join(SOURCES)}")
        rules = [self.rule(glob, law, glob_path=path, law_path=path, defaults=defaults,
                           extra={}) for glob, law, path in self.pairs(data)]
        for number, table in enumerate(self.array(data, "rule")):
            path = ("rule", number)
            self.check_keys(table, _RULE_KEYS, path, "[[rule]]")
            extra = {key: self.string(table, key, path, required=False)
                     for key in ("source", "citation", "note", "padding_row")}
            rules.append(self.rule(self.string(table, "glob", path),
                                   self.string(table, "law", path),
                                   glob_path=(*path, "glob"), law_path=(*path, "law"),
                                   defaults=defaults, extra=extra))
        mismatches = []
        for number, table in enumerate(self.array(data, "doc_mismatch")):
            path = ("doc_mismatch", number)
            self.check_keys(table, _MISMATCH_KEYS, path, "[[doc_mismatch]]")
            mismatches.append(DocMismatch(**{key: self.string(table, key, path)
                                             for key in _MISMATCH_KEYS}))
        rules.sort(key=lambda rule: (rule.line, rule.column))
        return Spec(origin=self.origin, rules=tuple(rules), doc_mismatches=tuple(mismatches),
                    model=self.string(header, "model", ("spec",), required=False),
                    description=self.string(header, "description", ("spec",), required=False))

    def array(self, data: Mapping, key: str) -> list:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.place((key,)).error(f"{key!r} is reserved for [[{key}]] tables")
        return value

    def pairs(self, data: Mapping, prefix: tuple = ()) -> Iterable[tuple[str, str, tuple]]:
        """The ``"glob" = "law"`` pairs, nested keys joined back with dots."""
        for key, value in data.items():
            if not prefix and key in _RESERVED:
                continue
            path = (*prefix, key)
            if isinstance(value, dict):
                yield from self.pairs(value, path)
            elif isinstance(value, str):
                yield ".".join(path), value, path
            else:
                raise self.place(path).error(
                    f"the law of {'.'.join(path)!r} must be a string such as "
                    f"\"normal(std=0.02)\", got {value!r}")


def parse_spec(text: str, origin: str) -> Spec:
    """Read a spec from TOML text; ``origin`` names it in errors (a path, ``<builtin>``)."""
    return _Reader(text, origin).spec()


def load_spec(path: str | Path) -> Spec:
    """Read a spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(str(path), 1, 1, f"cannot read the spec: {error}") from None
    return parse_spec(text, str(path))
