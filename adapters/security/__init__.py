"""Secrets and cryptography behind core's ports: password hashing, signed tokens, and the MultiFernet
cipher for platform credentials at rest."""
