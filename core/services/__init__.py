"""Use cases, one module per capability. Each takes primitives and its ports."""
