"""Adapters: the real implementations of core's ports, and the ways in (web, jobs, platforms)."""
