"""Password hashing and signed tokens: the cryptography behind core's ports."""
