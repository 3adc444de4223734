"""Domain objects and the pure rules that act on them."""
