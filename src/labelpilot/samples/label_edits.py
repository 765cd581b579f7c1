"""Label maintenance: update, rename and delete labels, and update a dataset with its labels.

A rename renames the label on every sample, a deletion strips it from every sample; both are
single SQL statements over ``sample_labels`` (no loop over samples). A sample left without any
label becomes unlabeled, so the counters (computed from sample states) stay equal to a recount.
They never commit: the route owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelpilot.datasets.service import create_labels
from labelpilot.datasets.tables import STATE_NONE, Dataset, Label, Sample
from labelpilot.datasets.tables import SampleLabel as SampleLabelRow
from labelpilot.datasets.types import LabelSpec
from labelpilot.db import after_commit
from labelpilot.errors import (
    BadRequest,
    DatasetNameTaken,
    LabelExists,
    LabelNotFound,
    LabelPilotError,
    LabelShortcutTaken,
)
from labelpilot.ids import now_ms
from labelpilot.samples.types import BatchOutcome, ItemResult
from labelpilot.storage import Storage
from labelpilot.storage.keys import dataset_prefix

RENAME_TO = "@modelarts:rename_to"
"""LabelProperty key of an update: the label's new name (an instruction, never stored)."""
SHORTCUT = "@modelarts:shortcut"
MAX_LABEL_NAME = 256


class DeletePolicy(IntEnum):
    """What a label deletion does to the samples that carried only that label."""

    LABEL_ONLY = 0  # strip the label; such samples become unlabeled
    SAMPLES = 1  # delete such samples; their stored files stay until the dataset goes
    SAMPLES_AND_FILES = 2  # delete such samples and their stored files


@dataclass(frozen=True)
class LabelChange:
    """An update of one label, matched by ``name`` (and ``type`` when given).

    ``property`` is merged into the label's; ``attributes`` are merged by attribute name.
    ``property[RENAME_TO]`` renames the label.
    """

    name: str
    type: int | None = None
    property: dict[str, Any] = field(default_factory=dict)
    attributes: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class DatasetEdit:
    """UpdateDataset's changes; ``None`` leaves a field as it is.

    ``labels`` is the full new label list (what otcextensions sends); it cannot be combined
    with the three explicit lists.
    """

    name: str | None = None
    description: str | None = None
    add_labels: list[LabelSpec] | None = None
    update_labels: list[LabelChange] | None = None
    delete_labels: list[str] | None = None
    labels: list[LabelSpec] | None = None


def find_label(ds: Dataset, name: str, field: str, type_: int | None = None) -> Label:
    """The dataset's label ``name`` (of ``type_`` when given); 4410 naming ``field`` if none."""
    for lb in ds.labels:
        if lb.name == name and (type_ is None or lb.type == type_):
            return lb
    kind = f" of type {type_}" if type_ is not None else ""
    raise LabelNotFound(f"{field}: label '{name}'{kind} does not exist")


def _check_shortcut(ds: Dataset, prop: dict[str, Any], owner: Label | None, field: str) -> None:
    shortcut = prop.get(SHORTCUT)
    if shortcut is None:
        return
    for lb in ds.labels:
        if lb is not owner and (lb.property or {}).get(SHORTCUT) == shortcut:
            raise LabelShortcutTaken(f"{field}: shortcut '{shortcut}' is used by label '{lb.name}'")


def _merged_attributes(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``old`` with the attributes of ``new`` replacing those of the same name, others appended."""
    out = list(old)
    for attr in new:
        at = next((i for i, a in enumerate(out) if a.get("name") == attr.get("name")), None)
        if at is None:
            out.append(attr)
        else:
            out[at] = attr
    return out


def rename_label(session: Session, ds: Dataset, label: Label, new_name: str, field: str) -> None:
    """Rename a label and every sample label that carries its name (one UPDATE)."""
    if not isinstance(new_name, str) or not 1 <= len(new_name) <= MAX_LABEL_NAME:
        raise BadRequest(f"{field} must be a name of 1 to {MAX_LABEL_NAME} characters")
    if new_name == label.name:
        return
    if any(lb.name == new_name for lb in ds.labels):
        raise LabelExists(f"{field}: label '{new_name}' already exists")
    session.execute(
        update(SampleLabelRow)
        .where(SampleLabelRow.dataset_id == ds.id, SampleLabelRow.name == label.name)
        .values(name=new_name)
        .execution_options(synchronize_session=False)
    )
    label.name = new_name


def update_label(session: Session, ds: Dataset, change: LabelChange, field: str) -> Label:
    """Merge a change into a label (renaming it when asked); 4410 for an unknown label."""
    label = find_label(ds, change.name, f"{field}.name", change.type)
    prop = dict(change.property)
    new_name = prop.pop(RENAME_TO, None)
    _check_shortcut(ds, prop, label, f"{field}.property")
    label.property = {**(label.property or {}), **prop}
    if change.attributes is not None:
        label.attributes = _merged_attributes(label.attributes or [], change.attributes)
    if new_name is not None:
        rename_label(session, ds, label, new_name, f"{field}.property.{RENAME_TO}")
    session.flush()
    ds.update_time = now_ms()
    return label


def delete_label(
    session: Session, storage: Storage, ds: Dataset, label: Label, policy: DeletePolicy
) -> list[str]:
    """Delete a label, strip it from every sample and apply ``policy`` to the samples that
    carried only it. Returns the storage keys to delete once the transaction commits."""
    mine = SampleLabelRow.sample_id == Sample.id
    carries = exists().where(mine, SampleLabelRow.name == label.name)
    other = exists().where(mine, SampleLabelRow.name != label.name)
    only_this = (Sample.dataset_id == ds.id, carries, ~other)
    keys: list[str] = []
    if policy == DeletePolicy.SAMPLES_AND_FILES:
        prefix = dataset_prefix(ds.id) + "/"
        for source in session.scalars(select(Sample.source).where(*only_this)):
            key = storage.key_of(source)
            if key is not None and key.startswith(prefix):  # never a file outside the dataset
                keys.append(key)
    if policy == DeletePolicy.LABEL_ONLY:
        stmt: Any = update(Sample).where(*only_this).values(state=STATE_NONE)
    else:  # their label rows go with them (ON DELETE CASCADE) or just below
        stmt = delete(Sample).where(*only_this)
    session.execute(stmt.execution_options(synchronize_session=False))
    session.execute(
        delete(SampleLabelRow)
        .where(SampleLabelRow.dataset_id == ds.id, SampleLabelRow.name == label.name)
        .execution_options(synchronize_session=False)
    )
    ds.labels.remove(label)
    session.flush()
    ds.update_time = now_ms()
    return keys


def delete_files_later(session: Session, storage: Storage, keys: Sequence[str]) -> None:
    """Delete stored files once the transaction has committed (never if it rolls back)."""

    def run() -> None:
        for key in keys:
            storage.delete(key)

    if keys:
        after_commit(session, run)


def _batch(
    session: Session, items: Sequence[Any], name_of: Callable[[Any], str], apply: Callable[..., Any]
) -> BatchOutcome:
    """Apply each item in its own savepoint; the answer has one result per item."""
    results: list[ItemResult] = []
    for i, item in enumerate(items):
        try:
            with session.begin_nested():
                apply(i, item)
            results.append(ItemResult(success=True, name=name_of(item)))
        except LabelPilotError as exc:
            results.append(
                ItemResult(
                    success=False,
                    name=name_of(item),
                    error_code=exc.error_code,
                    error_msg=exc.error_msg,
                )
            )
    failed = next((r for r in results if not r.success), None)
    if failed is None:
        return BatchOutcome(results)
    return BatchOutcome(results, error_code=failed.error_code, error_msg=failed.error_msg)


def update_labels(session: Session, ds: Dataset, changes: list[LabelChange]) -> BatchOutcome:
    """Batch update: each label on its own (an unknown name fails only its item)."""
    return _batch(
        session,
        changes,
        lambda c: c.name,
        lambda i, c: update_label(session, ds, c, f"labels[{i}]"),
    )


def delete_labels(
    session: Session,
    storage: Storage,
    ds: Dataset,
    names: list[str],
    policy: DeletePolicy,
) -> BatchOutcome:
    """Batch delete: each label on its own; stored files (policy 2) go after the commit."""
    keys: list[str] = []

    def apply(i: int, name: str) -> None:
        label = find_label(ds, name, f"labels[{i}].name")
        keys.extend(delete_label(session, storage, ds, label, policy))

    outcome = _batch(session, names, lambda n: n, apply)
    delete_files_later(session, storage, keys)
    return outcome


def _add_labels(session: Session, ds: Dataset, specs: list[LabelSpec], field: str) -> None:
    for i, spec in enumerate(specs):
        _check_shortcut(ds, spec.property, None, f"{field}[{i}].property")
        sc = spec.property.get(SHORTCUT)
        if sc is not None and any(o.property.get(SHORTCUT) == sc for o in specs[:i]):
            raise LabelShortcutTaken(f"{field}[{i}].property: shortcut '{sc}' is used twice")
    create_labels(session, ds, specs)


def _replace_label(ds: Dataset, spec: LabelSpec, field: str) -> None:
    """Give a surviving label (deleted and added in one request) the added label's fields."""
    label = find_label(ds, spec.name, field)
    _check_shortcut(ds, spec.property, label, f"{field}.property")
    if spec.type is not None:
        label.type = spec.type
    label.property = dict(spec.property)
    label.attributes = list(spec.attributes)


def _replace_all(session: Session, ds: Dataset, specs: list[LabelSpec], storage: Storage) -> None:
    """``labels``: the full new list, computed as a delete, an add and an update."""
    for i, spec in enumerate(specs):
        if RENAME_TO in spec.property:
            raise BadRequest(
                f"labels[{i}].property.{RENAME_TO}: rename with update_labels or "
                "PUT .../data-annotations/labels/{label_name}"
            )
    wanted = {spec.name for spec in specs}
    if len(wanted) < len(specs):
        raise LabelExists("labels: a label name is listed twice")
    for label in [lb for lb in ds.labels if lb.name not in wanted]:
        delete_label(session, storage, ds, label, DeletePolicy.LABEL_ONLY)
    have = {lb.name for lb in ds.labels}
    for i, spec in enumerate(specs):
        if spec.name in have:
            _replace_label(ds, spec, f"labels[{i}]")
    _add_labels(session, ds, [x for x in specs if x.name not in have], "labels")


def update_dataset(session: Session, storage: Storage, ds: Dataset, edit: DatasetEdit) -> None:
    """UpdateDataset, all or nothing: delete_labels, then add_labels, then update_labels.

    A label both deleted and added survives with the added fields, and so do its sample labels
    (Terraform sends the whole old list as delete_labels and the new one as add_labels).
    """
    explicit = (edit.add_labels, edit.update_labels, edit.delete_labels)
    if edit.labels is not None and any(x is not None for x in explicit):
        raise BadRequest(
            "labels: cannot be combined with add_labels, update_labels or delete_labels"
        )
    if edit.name is not None and edit.name != ds.name:
        taken = session.scalar(
            select(Dataset.id).where(Dataset.project_id == ds.project_id, Dataset.name == edit.name)
        )
        if taken:
            raise DatasetNameTaken(f"dataset_name '{edit.name}' is already used")
        ds.name = edit.name
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError as exc:  # a concurrent write took the name after the check
            raise DatasetNameTaken(f"dataset_name '{edit.name}' is already used") from exc
    if edit.description is not None:
        ds.description = edit.description
    if edit.labels is not None:
        _replace_all(session, ds, edit.labels, storage)
    added = {spec.name: spec for spec in edit.add_labels or []}
    for i, name in enumerate(edit.delete_labels or []):
        label = find_label(ds, name, f"delete_labels[{i}].name")
        if name not in added:
            delete_label(session, storage, ds, label, DeletePolicy.LABEL_ONLY)
    survivors = set(edit.delete_labels or []) & set(added)
    for i, spec in enumerate(edit.add_labels or []):
        if spec.name in survivors:
            _replace_label(ds, spec, f"add_labels[{i}]")
    new = [spec for spec in edit.add_labels or [] if spec.name not in survivors]
    _add_labels(session, ds, new, "add_labels")
    for i, change in enumerate(edit.update_labels or []):
        update_label(session, ds, change, f"update_labels[{i}]")
    ds.update_time = now_ms()
    session.flush()
