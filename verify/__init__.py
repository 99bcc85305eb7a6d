"""Property-based verification of neural-network weight initialization.

The textbook's claims (:mod:`verify.claims`), reference implementations of every
scheme (:mod:`verify.reference`), a statistical engine with known size and power
(:mod:`verify.stats`) and reusable hypothesis strategies (:mod:`verify.strategies`).
"""

__version__ = "0.1.0"
