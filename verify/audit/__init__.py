"""Audit a built model: the law each of its tensors should follow, and whether it does."""
