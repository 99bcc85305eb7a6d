"""Name maps: which tensor of model B is which tensor of model A, for ``compare --models``.

A port between frameworks renames tensors (PyTorch's ``layers.0.weight`` is Flax's
``layers_0.kernel``) and may store them with their axes in another order. A map is a
TOML file with one table, ``[names]``: each key a tensor name of model A, each value the
name of the same tensor in model B, or an inline table with that name and how B orders
the axes::

    [names]
    "embed.weight" = "embed.embedding"
    "blocks.*.fc.weight" = { name = "blocks_*.fc.kernel", transpose = true }
    "conv.weight" = { name = "conv.kernel", axes = [2, 3, 1, 0] }
    "**.bias" = "**.bias"

* Names are the dotted names :func:`verify.layers.walk` gives (``python -m verify compare
  --models A B`` lists the tensors it could not match, with their names).
* ``*`` matches one or more characters within one dotted component; ``**`` one or more
  characters, dots included. The text each placeholder of A's name matched is written
  into the placeholder of the same rank in B's name, so both names must have the same
  placeholders in the same order (``blocks.*.fc.weight`` -> ``blocks_*.fc.kernel`` maps
  ``blocks.3.fc.weight`` to ``blocks_3.fc.kernel``).
* An exact name wins over a glob; among globs, the first in the file that matches wins.
  A tensor of A without an entry is looked for under its own name in B.
* ``transpose = true``: B stores the tensor with its axes reversed (a PyTorch ``(out,
  in)`` weight as a Flax ``(in, out)`` kernel). ``axes = [...]``: B's axis ``i`` is A's
  axis ``axes[i]``, as ``numpy.transpose(a, axes)`` (``[2, 3, 1, 0]``: an ``(out, in, kh,
  kw)`` weight stored ``(kh, kw, in, out)``). With either, B's shape must be exactly A's
  shape so transposed; without, any shape with A's number of entries is accepted, and
  the comparison says whether it is equal, A's axes reordered, or reshaped. The
  variance does not depend on the layout: the axes only check that the port's tensor
  has the shape it should.
* Quote the names: TOML reads an unquoted dotted key as nested tables. Those are joined
  back with dots (as in spec files), and a table with a string ``name`` is an entry.

A map that cannot be read or used raises :class:`~verify.audit.spec.SpecError`, one line
``FILE:LINE:COL: what is wrong``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.audit.spec import SpecError, _Place, _Reader, _toml_error

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENTRY_KEYS = ("name", "transpose", "axes")
_PLACEHOLDER = re.compile(r"\*+")


@dataclass(frozen=True, kw_only=True)
class MapEntry:
    """One entry of ``[names]``: A's name or glob, B's, and B's order of the axes."""

    source: str
    target: str
    axes: tuple[int, ...] | None = None
    """B's axis ``i`` is A's axis ``axes[i]``; None: not declared."""
    transpose: bool = False
    """B stores the axes reversed (``axes`` is then None)."""
    line: int = 0
    column: int = 0

    @property
    def exact(self) -> bool:
        return "*" not in self.source

    def apply(self, name: str) -> str | None:
        """B's name for A's tensor ``name``, or None if this entry does not match it."""
        if self.exact:
            return self.target if name == self.source else None
        found = _regex(self.source).fullmatch(name)
        if found is None:
            return None
        captured = iter(found.groups())
        return _PLACEHOLDER.sub(lambda _: next(captured), self.target)

    def expected_shape(self, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """B's shape for A's ``shape`` when the entry declares the axes, else None (also
        when ``axes`` does not fit the rank: the shapes then differ)."""
        if self.transpose:
            return tuple(reversed(shape))
        if self.axes is None:
            return None
        if sorted(self.axes) != list(range(len(shape))):
            return ()
        return tuple(shape[axis] for axis in self.axes)

    def describe(self) -> str:
        layout = " (transposed)" if self.transpose else (
            f" (axes {list(self.axes)})" if self.axes is not None else "")
        return f"{self.source!r} = {self.target!r}{layout}, line {self.line}"

    def to_dict(self) -> dict:
        return {"a": self.source, "b": self.target, "transpose": self.transpose,
                "axes": list(self.axes) if self.axes is not None else None,
                "line": self.line}


@dataclass(frozen=True, kw_only=True)
class NameMap:
    """The entries of a map file, in the file's order."""

    origin: str
    entries: tuple[MapEntry, ...]

    def lookup(self, name: str) -> tuple[str, MapEntry | None]:
        """B's name for A's tensor ``name`` and the entry that gave it: an exact entry,
        else the first glob that matches, else ``name`` itself (entry None)."""
        for entry in self.entries:
            if entry.exact and entry.source == name:
                return entry.target, entry
        for entry in self.entries:
            if not entry.exact:
                mapped = entry.apply(name)
                if mapped is not None:
                    return mapped, entry
        return name, None

    def unused(self, names: Iterable[str]) -> list[MapEntry]:
        """The entries that map none of ``names`` (A's tensors)."""
        used = {id(entry) for name in names if (entry := self.lookup(name)[1]) is not None}
        return [entry for entry in self.entries if id(entry) not in used]


def _regex(pattern: str) -> re.Pattern:
    parts = []
    for piece in re.split(r"(\*\*|\*)", pattern):
        parts.append({"**": "(.+)", "*": "([^.]+)"}.get(piece, re.escape(piece)))
    return re.compile("".join(parts))


class _MapReader(_Reader):
    def name_map(self) -> NameMap:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as error:
            raise _toml_error(error, self.text, self.origin, self.duplicates) from None
        for key in data:
            if key != "names":
                raise self.place((key,)).error(
                    f"unknown key {key!r}: a map has one table, [names] (write the "
                    "entries after the [names] header)")
        names = data.get("names")
        if not isinstance(names, dict) or not names:
            where = self.place(("names",)) if "names" in data else _Place(self.origin, 1, 1)
            raise where.error("the map has no entries: write [names], then one line per "
                              'tensor, "name in A" = "name in B"')
        entries = [self.entry(source, value, path) for source, value, path
                   in self.entries_of(names, ("names",))]
        return NameMap(origin=self.origin, entries=tuple(entries))

    def entries_of(self, table: Mapping, prefix: tuple) -> Iterable[tuple[str, Any, tuple]]:
        for key, value in table.items():
            path = (*prefix, key)
            if isinstance(value, dict) and not isinstance(value.get("name"), str):
                yield from self.entries_of(value, path)
            else:
                yield ".".join(path[1:]), value, path

    def entry(self, source: str, value: Any, path: tuple) -> MapEntry:
        place = self.place(path)
        options: dict = {}
        if isinstance(value, dict):
            for key in value:
                if key not in ENTRY_KEYS:
                    raise self.inline_place(path, key).error(
                        f"unknown key {key!r} in the entry of {source!r}: use "
                        f"{', '.join(ENTRY_KEYS)}")
            target, options = value["name"], value
        elif isinstance(value, str):
            target = value
        else:
            raise place.error(f"the entry of {source!r} must be B's name, a string, or an "
                              f'inline table such as {{ name = "...", transpose = true }}; '
                              f"got {value!r}")
        target_place = self.value_place(path, target) if isinstance(value, str) else \
            self.inline_place(path, "name")
        _check_pattern(source, place, "A's name")
        _check_pattern(target, target_place, "B's name")
        if _PLACEHOLDER.findall(source) != _PLACEHOLDER.findall(target):
            raise target_place.error(
                f"B's name {target!r} must have the placeholders of A's name {source!r} "
                "in the same order "
                f"({' '.join(_PLACEHOLDER.findall(source)) or 'none'}), got "
                f"{' '.join(_PLACEHOLDER.findall(target)) or 'none'}")
        transpose = options.get("transpose", False)
        if not isinstance(transpose, bool):
            raise self.inline_place(path, "transpose").error(
                f"transpose must be true or false, got {transpose!r}")
        axes = options.get("axes")
        if axes is not None:
            if transpose:
                raise self.inline_place(path, "axes").error(
                    "give transpose or axes, not both")
            if (not isinstance(axes, list) or not axes
                    or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
                    or sorted(axes) != list(range(len(axes)))):
                raise self.inline_place(path, "axes").error(
                    f"axes must list each of A's axes 0 .. rank-1 once, in B's order, such "
                    f"as [1, 0] or [2, 3, 1, 0]; got {axes!r}")
            axes = tuple(axes)
        return MapEntry(source=source, target=target, axes=axes, transpose=transpose,
                        line=place.line, column=place.column)

    def inline_place(self, path: tuple, key: str) -> _Place:
        """Where ``key`` is written in the inline table at ``path`` (else the entry's key)."""
        where = self.index.get(path)
        if where is not None and where.value_column is not None:
            found = re.compile(rf"[{{,]\s*({re.escape(key)})\s*=").search(
                where.raw, where.value_column - 1)
            if found:
                return _Place(self.origin, where.line, found.start(1) + 1)
        return self.place(path)


def _check_pattern(pattern: str, place: _Place, what: str) -> None:
    if not pattern:
        raise place.error(f"{what} is empty")
    if any(len(run) > 2 for run in _PLACEHOLDER.findall(pattern)):
        raise place.error(f"{what} {pattern!r}: use * (within a component) or ** "
                          "(across components), not ***")
    if "" in pattern.split("."):
        raise place.error(f"{what} {pattern!r} has an empty component (two dots, or a dot "
                          "at an end)")


def parse_map(text: str, origin: str) -> NameMap:
    """Read a map from TOML text; ``origin`` names it in errors."""
    return _MapReader(text, origin).name_map()


def load_map(path: str | Path) -> NameMap:
    """Read a map file (the module's docstring gives its format)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(str(path), 1, 1, f"cannot read the map: {error}") from None
    return parse_map(text, str(path))
