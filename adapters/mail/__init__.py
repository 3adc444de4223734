"""Mail adapters: SMTP for production, console and outbox folder for the embedded default."""
