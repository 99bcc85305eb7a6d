"""The units of the commands, as functions a worker imports: each rebuilds what it needs
from JSON-ready arguments (a catalog entry from its library and name), never from this
process's objects."""

from __future__ import annotations

_CATALOGS: dict = {}


def _entry(library: str, name: str, backend: str):
    from verify import catalog

    key = (library, backend)
    if key not in _CATALOGS:
        _CATALOGS[key] = catalog.load([library], backends=[backend] if backend else None)
    return _CATALOGS[key].find(name, backend or None)


def conformance_unit(*, library: str, name: str, backend: str, dtype: str, seed: int,
                     examples: int, timeout: float, fingerprint: bool) -> dict:
    """One catalog entry in one dtype: its row (:func:`verify.matrix.conformance_row`)."""
    from verify.matrix import conformance_row

    entry = _entry(library, name, backend)
    return conformance_row(entry, seed=seed, examples=examples, timeout=timeout,
                           fingerprint=fingerprint, dtype=dtype)


def audit_unit(*, target: str, api: str | None, config: dict, kwargs: dict,
               spec: str | None, waive: str | None, seed: int, examples: int,
               timeout: float, dtype: str | None) -> dict:
    """One model's audit: its JSON (``AuditResult.to_dict``) and its table; a builder that
    fails is an ``error`` result, as ``audit`` prints it among many."""
    from verify.audit import BuildError, audit_model, load_waivers
    from verify.audit.dtypes import default_dtype
    from verify.audit.engine import AuditResult

    loaded = None
    if spec:
        from verify.audit.spec import load_spec

        loaded = load_spec(spec)
    waivers = load_waivers(waive) if waive else ()
    default_api = api or {"transformers": "torch"}.get(target.partition(":")[0], None)
    try:
        with default_dtype(default_api or target.partition(":")[0], dtype):
            result = audit_model(target, api=api, spec=loaded, config=config, kwargs=kwargs,
                                 waivers=waivers, seed=seed, examples=examples,
                                 timeout=timeout)
    except BuildError as error:
        result = AuditResult(target=target, api=default_api or "torch", seed=seed,
                             error=str(error))
    return {"result": result.to_dict(), "table": result.table()}


def calibration_unit(*, tier: str, batch: int, start: int, checks: int, seed: int) -> dict:
    """A batch of null checks of one tier (:func:`verify.calibration.null_batch`)."""
    from verify.calibration import null_batch

    return null_batch(tier=tier, batch=batch, start=start, checks=checks, seed=seed)


def history_unit(*, plan: dict, version: str, cache: str | None, index: dict) -> dict:
    """One release of a history: installed into ``cache`` (None: this host's default
    cache) and run (:func:`verify.history.install_and_run`); its record
    (``Release.to_record``)."""
    from pathlib import Path

    from verify.history import install_and_run
    from verify.history.releases import IndexOptions
    from verify.history.runner import Plan

    release = install_and_run(Plan.from_record(plan), version,
                              cache=None if cache is None else Path(cache),
                              index=IndexOptions.from_record(index))
    return release.to_record()


def report_unit(*, function, arguments: dict):
    """One item of a report's section (a claim, a depth figure, a catalog entry, a
    measurement, a model's audit): ``function(**arguments)``, with Paddle imported first
    (:func:`verify.report.sections.paddle_first`)."""
    from verify.report.sections import paddle_first

    paddle_first()
    return function(**arguments)


def zoo_unit(*, model_class: str, seed: int, examples: int, timeout: float) -> dict:
    """One architecture of the model zoo: its row
    (:func:`verify.audit.zoo.audit_architecture`)."""
    from verify.audit.hf import quiet
    from verify.audit.zoo import audit_architecture

    quiet()
    return audit_architecture(model_class, seed=seed, examples=examples, timeout=timeout)
