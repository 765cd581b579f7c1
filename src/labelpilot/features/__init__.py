"""Per-sample features computed in batches and cached in storage (shared by every task kind)."""
