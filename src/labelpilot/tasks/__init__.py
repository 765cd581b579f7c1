"""Intelligent tasks: creation, listing, description, stop."""
