"""The interfaces the services need; adapters implement them, unit tests fake them."""
