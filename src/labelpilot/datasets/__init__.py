"""Datasets, their labels and samples."""
