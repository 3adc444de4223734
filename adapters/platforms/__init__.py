"""Platform plumbing: the pluggy hookspecs, the plugin manager and the typed registry in front of it."""
