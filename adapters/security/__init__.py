"""Secrets at rest: the MultiFernet cipher for credentials and platform tokens."""
