"""The Flask web adapter: the app factory and one blueprint module per feature."""
