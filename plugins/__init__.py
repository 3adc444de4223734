"""Platform plugins. Each is registered by its own entry point, exactly as a third party's would be."""
