"""Findings ready to file upstream: one Markdown bug report per finding, each with a
reproduction that runs with the library alone (``--upstream DIR``)."""
