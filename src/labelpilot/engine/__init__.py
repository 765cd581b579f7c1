"""Durable task queue, workers, leases, stop, crash recovery, progress and events."""
