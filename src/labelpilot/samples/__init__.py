"""Samples: import, upload, filters, label updates, deletion."""
