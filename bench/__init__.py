"""Benchmarks: each prints its figures (see docs/operations.md for the latest)."""
