"""``TARGET`` on the command line: a catalog name or a user's ``package.module:attribute``."""

from __future__ import annotations

from verify.cli.options import UsageError


def resolve_target(name: str, api: str, kwargs_text: str | None, backend: str | None = None,
                   dtype: str = "float32"):
    """``(target, catalog entry or None)`` for a catalog name or a user target, asked for
    ``dtype``; a keras entry on ``backend`` (a child process when it is not this process's
    backend)."""
    from verify import catalog
    from verify.adapters import DtypeUnsupported
    from verify.targets import parse_kwargs, user_target

    kwargs = parse_kwargs(kwargs_text)
    library = catalog.library_of(name)
    if library in catalog.LIBRARIES and ":" in name and not kwargs:
        found = catalog.load([library], backends=[backend] if backend else None)
        for skipped, reason in found.skipped.items():
            if skipped == library or skipped.startswith(f"{library}["):
                raise UsageError(reason)
        try:
            entry = found.find(name)
        except KeyError:
            entry = None
        if entry is not None:
            try:
                return entry.target(dtype), entry
            except DtypeUnsupported as error:
                raise UsageError(str(error)) from None
    try:
        return user_target(name, api, kwargs, dtype), None
    except DtypeUnsupported as error:
        raise UsageError(str(error)) from None
