"""``audit`` of whole models, as ``python -m verify audit`` runs it (default policy, the
run's default seed), and its parts.

``ModelAudit`` times the audit of a user's torch model (a stack of Linear blocks with its
own scheme and a head left on the default, tests/audit_models.py), of a framework layer
(a packed ``nn.MultiheadAttention``) and of a transformers architecture at its starting
config (GPT-2, no config exploration: ``--examples 0``). ``AuditParts`` times the pieces
one audit repeats per tensor and per build, so that a slowdown shows where it is: the
battery on a pooled sample, the measured family, a correlation between two tensors, and
one build walked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from verify.seeding import DEFAULT_SEED
from verify.stats import DEFAULT_POLICY, Policy

SMOKE = bool(os.environ.get("VERIFY_BENCH_SMOKE"))  # see common.py
POLICY = Policy(effect=0.2) if SMOKE else DEFAULT_POLICY
"""The smoke run targets 20% errors: about 400 times fewer entries, a few builds."""

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.audit_models


def _transformers() -> bool:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


class ModelAudit:
    params = ["user model", "nn.MultiheadAttention", "transformers:GPT2Model"]
    param_names = ["model"]
    timeout = 600

    def setup(self, model):
        from verify.audit import audit_model

        if model == "transformers:GPT2Model" and not _transformers():
            raise NotImplementedError("transformers is not installed")
        self.audit_model = audit_model
        self.run(model, Policy(effect=0.5))  # first-call work: imports, the model's classes

    def run(self, model, policy):
        from tests import audit_models

        if model == "user model":
            return self.audit_model(audit_models.broken_head_left_on_default, api="torch",
                                    seed=DEFAULT_SEED, policy=policy)
        if model == "nn.MultiheadAttention":
            return self.audit_model("torch:nn.MultiheadAttention",
                                    kwargs={"embed_dim": 64, "num_heads": 4},
                                    seed=DEFAULT_SEED, policy=policy)
        return self.audit_model(model, seed=DEFAULT_SEED, policy=policy, examples=0)

    def time_audit(self, model):
        self.run(model, POLICY)


class AuditParts:
    """The pieces an audit repeats, on a 64x64 float32 tensor pooled over 256 builds."""

    def setup(self):
        from verify.audit import anomalies, tensors
        from verify.laws import TensorLaw

        self.battery, self.measure = tensors.battery, tensors.measure
        self.correlation = anomalies._correlation_pvalue
        rng = np.random.default_rng(0)
        self.sample = rng.normal(0, 0.02, 64 * 64 * (16 if SMOKE else 256)).astype(np.float32)
        self.pair = rng.normal(size=(2, 256, 256)).astype(np.float32)
        self.law = TensorLaw(family="normal", std=0.02)

        self.battery(self.sample[:4096], self.law, policy=DEFAULT_POLICY)  # first calls

    def time_battery(self):
        self.battery(self.sample, self.law, policy=DEFAULT_POLICY)

    def time_measure(self):
        self.measure([self.sample], rng=np.random.default_rng(1), policy=DEFAULT_POLICY)

    def time_correlation(self):
        self.correlation(self.pair[0], self.pair[1])
