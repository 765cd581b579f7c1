"""LabelPilot: intelligent labeling tasks behind a ModelArts-compatible API."""

__version__ = "0.1.0"
