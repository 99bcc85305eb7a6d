"""Property-based verification of neural-network weight initialization.

The textbook's claims (:mod:`verify.claims`), reference implementations of every
scheme (:mod:`verify.reference`), a statistical engine with known size and power
(:mod:`verify.stats`) and reusable hypothesis strategies (:mod:`verify.strategies`).
"""

__version__ = "0.1.0"

__all__ = ["assert_conforms"]


def __getattr__(name: str):
    if name == "assert_conforms":  # imported on first use: `import verify` stays light
        from verify.assertions import assert_conforms

        return assert_conforms
    raise AttributeError(f"module 'verify' has no attribute {name!r}")
