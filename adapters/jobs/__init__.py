"""JobQueue adapters (RQ on Redis; a worker thread for the embedded default) and the job functions."""
