"""Storage keys of everything a dataset owns, in one place."""

from __future__ import annotations


def dataset_prefix(dataset_id: str) -> str:
    """Storage key prefix of everything a dataset owns."""
    return f"datasets/{dataset_id}"


def sample_key(dataset_id: str, name: str) -> str:
    return f"{dataset_prefix(dataset_id)}/data/{name}"


def thumbnail_key(dataset_id: str, sample_id: str, size: int) -> str:
    return f"{dataset_prefix(dataset_id)}/thumbnails/{size}/{sample_id}.jpg"


def task_output_key(dataset_id: str, kind_dir: str, task_id: str, name: str) -> str:
    """A task's output under the dataset's annotation path."""
    return f"{dataset_prefix(dataset_id)}/annotation/{kind_dir}/{task_id}/{name}"


def hard_examples_key(dataset_id: str, task_id: str) -> str:
    return f"{dataset_prefix(dataset_id)}/annotation/hard-examples/{task_id}.manifest"


def versions_prefix(dataset_id: str) -> str:
    return f"{dataset_prefix(dataset_id)}/versions/"
