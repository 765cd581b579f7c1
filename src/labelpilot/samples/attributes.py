"""Stored attribute keys of samples and labels (ModelArts' ``@modelarts:`` vocabulary)."""

from __future__ import annotations

HARD = "@modelarts:hard"
HARD_COEFFICIENT = "@modelarts:hard_coefficient"
HARD_REASONS = "@modelarts:hard_reasons"
SIZE = "@modelarts:size"
