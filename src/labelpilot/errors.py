"""The error catalogue: every ModelArts error code LabelPilot answers, one class per code.

Each class fixes its HTTP status and code; raising it with a message naming the field is the
only way to answer an error. ``app.py`` renders them as
``{"error_code": "ModelArts.XXXX", "error_msg": "..."}``; ``docs/api.md`` lists the same
catalogue (a test compares the two).
"""

from __future__ import annotations

from typing import ClassVar


class LabelPilotError(Exception):
    """Base error: an HTTP status plus a ModelArts error code and message."""

    status_code: ClassVar[int] = 400
    error_code: ClassVar[str] = "ModelArts.0104"

    def __init__(self, error_msg: str) -> None:
        super().__init__(error_msg)
        self.error_msg = error_msg

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "error_msg": self.error_msg}


# --- 400: the request is wrong ----------------------------------------------------------------


class BadRequest(LabelPilotError):
    """A query or body value is wrong; the message names the field."""


class InvalidTaskType(BadRequest):
    """``task_type`` (or ListTasks' ``type``) names no task kind."""


class InvalidJson(LabelPilotError):
    """The request body is not valid JSON."""

    error_code = "ModelArts.4105"


class EmptyBody(LabelPilotError):
    """A request that needs a body came without one."""

    error_code = "ModelArts.4202"


class SplitNotPossible(LabelPilotError):
    """A train/evaluate split the dataset's type or labels do not allow."""

    error_code = "ModelArts.4342"


class InvalidExportPath(LabelPilotError):
    """An export ``path`` that is not a directory inside LabelPilot's storage."""

    error_code = "ModelArts.4358"


class VersionNameTaken(LabelPilotError):
    """Another version of the dataset has the name."""

    error_code = "ModelArts.4371"


class InvalidExportParameter(LabelPilotError):
    """An export or publish parameter LabelPilot does not know (a format, a type)."""

    error_code = "ModelArts.4384"


class DatasetNameTaken(LabelPilotError):
    """Another dataset of the project has the name."""

    error_code = "ModelArts.4351"


class TaskNameTaken(LabelPilotError):
    """Another task of the dataset has the name (auto-deploy names are unique)."""

    error_code = "ModelArts.4391"


class ModelDoesNotFitDataset(LabelPilotError):
    """A pre-label model whose task does not match the dataset's type."""

    error_code = "ModelArts.4399"


class NoLabeledSamples(LabelPilotError):
    """Auto labeling needs labeled samples."""

    error_code = "ModelArts.4405"


class TooFewLabels(LabelPilotError):
    """Auto labeling needs two labels with enough labeled samples each."""

    error_code = "ModelArts.4406"


class NoTargetSamples(LabelPilotError):
    """Nothing left to label (unlabeled, unconfirmed, or the given samples)."""

    error_code = "ModelArts.4407"


class LabelNotFound(LabelPilotError):
    """A label name the dataset does not have."""

    error_code = "ModelArts.4410"


class LabelExists(LabelPilotError):
    """A label the dataset already has."""

    error_code = "ModelArts.4411"


class LabelShortcutTaken(LabelPilotError):
    """Another label of the dataset has the ``@modelarts:shortcut``."""

    error_code = "ModelArts.4412"


class SamplesNotUpdated(LabelPilotError):
    """Batch answer of UpdateSamples when an item failed."""

    error_code = "ModelArts.4417"


class SampleNotStored(LabelPilotError):
    """A sample that could not be added (also the batch answer of AddSamples)."""

    error_code = "ModelArts.4421"


class SampleExists(LabelPilotError):
    """A sample of the dataset already has the name."""

    error_code = "ModelArts.4422"


class ImageUnreadable(LabelPilotError):
    """An image that cannot be read or does not decode completely (a truncated file)."""

    error_code = "ModelArts.4423"


class SamplesNotFound(LabelPilotError):
    """Batch answer of DeleteSamples when a sample did not exist."""

    error_code = "ModelArts.4424"


class DeployNeedsLabels(LabelPilotError):
    """Auto-deploy needs labeled samples of at least two labels."""

    error_code = "ModelArts.4426"


class DeployTooFewPerLabel(LabelPilotError):
    """Auto-deploy needs 5 labeled samples per label."""

    error_code = "ModelArts.4427"


class TooManyClusters(LabelPilotError):
    """``n_clusters`` is not smaller than the number of images to group."""

    error_code = "ModelArts.4622"


class SampleTooLarge(LabelPilotError):
    """A sample over 12 MiB."""

    error_code = "ModelArts.4656"


class InvalidModel(LabelPilotError):
    """A model that cannot be used: the message says why."""

    error_code = "ModelArts.4934"


# --- 401 / 403: who is asking ------------------------------------------------------------------


class Unauthorized(LabelPilotError):
    """No credential at all."""

    status_code = 401
    error_code = "ModelArts.0201"


class RequestExpired(Unauthorized):
    """An expired token, or an ``X-Sdk-Date`` that is malformed or outside the window."""

    error_code = "ModelArts.0202"


class RequestReplayed(Unauthorized):
    """A signed write already accepted once: it is refused until its ``X-Sdk-Date`` expires."""

    error_code = "ModelArts.0202"


class InvalidToken(Unauthorized):
    """An X-Auth-Token that no credential has."""

    error_code = "ModelArts.0203"


class MissingAuthorization(Unauthorized):
    """An AK/SK request without an Authorization header."""

    error_code = "ModelArts.0205"


class MalformedAuthorization(Unauthorized):
    """An Authorization header that is not SDK-HMAC-SHA256 as the SDK sends it."""

    error_code = "ModelArts.0206"


class UnknownAccessKey(Unauthorized):
    """An access key no credential has."""

    error_code = "ModelArts.4504"


class Forbidden(LabelPilotError):
    """The credential belongs to another project."""

    status_code = 403
    error_code = "ModelArts.0210"


class SignatureMismatch(Forbidden):
    """An AK/SK signature that does not match the request."""

    error_code = "ModelArts.0206"


class PathNotAllowed(Forbidden):
    """A server path outside the allowed import locations."""

    error_code = "ModelArts.4205"


class DatasetBusy(Forbidden):
    """The dataset has an active task."""

    error_code = "ModelArts.4613"


# --- 404 / 405 / 413: not found, wrong method, too large ---------------------------------------


class NotFound(LabelPilotError):
    """No such API (an unknown path)."""

    status_code = 404
    error_code = "ModelArts.4204"


class MethodNotAllowed(LabelPilotError):
    """A method the path does not answer."""

    status_code = 405
    error_code = "ModelArts.4204"


class DatasetNotFound(NotFound):
    """No such dataset in the project."""

    error_code = "ModelArts.4352"

    def __init__(self, dataset_id: str) -> None:
        super().__init__(f"Dataset {dataset_id} does not exist")


class SampleNotFound(NotFound):
    """No such sample in the dataset."""

    error_code = "ModelArts.4420"

    def __init__(self, sample_id: str) -> None:
        super().__init__(f"Sample {sample_id} not found")


class TaskNotFound(NotFound):
    """No such task on the dataset."""

    error_code = "ModelArts.4612"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task {task_id} not found")


class VersionNotFound(NotFound):
    """No such version of the dataset."""

    error_code = "ModelArts.4353"

    def __init__(self, version_id: str) -> None:
        super().__init__(f"Dataset version {version_id} does not exist")


class ImportTaskNotFound(NotFound):
    """No such import task on the dataset (DATA_MANAGEMENT §10.6: 404, the generic task code)."""

    error_code = "ModelArts.4612"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Import task {task_id} does not exist")


class ExportTaskNotFound(NotFound):
    """No such export task on the dataset."""

    error_code = "ModelArts.4359"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Export task {task_id} does not exist")


class ModelNotFound(NotFound):
    """No such model in the project."""

    def __init__(self, model_id: str) -> None:
        super().__init__(f"Model {model_id} does not exist")


class ServiceNotFound(NotFound):
    """No such online service in the project."""

    error_code = "ModelArts.3502"

    def __init__(self, service_id: str) -> None:
        super().__init__(f"Service {service_id} does not exist")


class BodyTooLarge(LabelPilotError):
    """A request body over the limit (12 MiB; model uploads more)."""

    status_code = 413
    error_code = "ModelArts.4104"


class ImageTooLarge(LabelPilotError):
    """An image over ``max_image_pixels`` pixels (read from its header, never decoded)."""

    status_code = 413
    error_code = "ModelArts.4657"


class ModelTooLarge(LabelPilotError):
    """A model file over ``max_model_bytes``."""

    status_code = 413
    error_code = "ModelArts.4934"


# --- 500 / 501 ------------------------------------------------------------------------------


class InternalError(LabelPilotError):
    """An unexpected error; the message carries the request id."""

    status_code = 500
    error_code = "ModelArts.0010"


class NotAvailable(LabelPilotError):
    """A feature that is not built in this version; says so instead of faking it."""

    status_code = 501
    error_code = "ModelArts.4383"


class StorageUnavailable(LabelPilotError):
    """The object storage does not answer (connection refused, timed out): retry later."""

    status_code = 503
    error_code = "ModelArts.4932"


class TaskAlreadyRunning(LabelPilotError):
    """A task of the same kind is already active on the dataset (501, as ModelArts answers)."""

    status_code = 501
    error_code = "ModelArts.4386"


class AutoLabelRunning(TaskAlreadyRunning):
    """An auto-label task is already active on the dataset."""

    error_code = "ModelArts.4386"


class PreLabelRunning(TaskAlreadyRunning):
    """A pre-label task is already active on the dataset."""

    error_code = "ModelArts.4387"


class AutoDeployRunning(TaskAlreadyRunning):
    """An auto-deploy task is already active on the dataset."""

    error_code = "ModelArts.4385"


class VersionPublishing(TaskAlreadyRunning):
    """A version of the dataset is being published (400, as ModelArts answers)."""

    status_code = 400
    error_code = "ModelArts.4343"


class ExportRunning(TaskAlreadyRunning):
    """An export task is already active on the dataset (one at a time)."""

    error_code = "ModelArts.4386"


class ImportRunning(TaskAlreadyRunning):
    """An import task is already active on the dataset (one at a time)."""

    error_code = "ModelArts.4356"


class SyncRunning(TaskAlreadyRunning):
    """A sync of the dataset is already active."""

    error_code = "ModelArts.4355"


class GroupingRunning(TaskAlreadyRunning):
    """An auto-grouping task is already active on the dataset."""

    error_code = "ModelArts.4964"


# --- codes a failed task reports (DescTask's error_code; never an HTTP answer) --------------


class TaskError(LabelPilotError):
    """Task: base of failures only a running task reports (in its ``error_code``)."""

    status_code = 500


class RunFailed(TaskError):
    """Task: a run failed for the reason its message gives (also a failed task's ``code``)."""

    error_code = "ModelArts.4392"


class InferenceFailed(TaskError):
    """Task: the model could not be run on a sample (or its endpoint failed)."""

    error_code = "ModelArts.4953"


class TooManyUnreadableSamples(TaskError):
    """Task: more than ``max_unreadable_fraction`` of its samples could not be read or decoded."""

    error_code = "ModelArts.4428"


class DataTaskFailed(TaskError):
    """Task: publishing a version or exporting failed for the reason its message gives."""

    error_code = "ModelArts.4710"


class AssetMissing(TaskError, FileNotFoundError):
    """Task: a packaged model asset is not installed (the message names the package)."""

    error_code = "ModelArts.4931"


class NoValidFile(TaskError):
    """Task: an import found no file it could import (each file's reason is in its summary)."""

    error_code = "ModelArts.4340"


class TaskCrashed(TaskError):
    """Task: the run crashed (an incident), or its worker was lost too often."""

    error_code = "ModelArts.4999"


def catalogue() -> list[type[LabelPilotError]]:
    """Every error class of this module (the docs' table lists the same)."""
    out: list[type[LabelPilotError]] = []
    todo: list[type[LabelPilotError]] = [LabelPilotError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == __name__:
            out.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(out), key=lambda c: (c.error_code, c.status_code, c.__name__))


class TaskCode:
    """Codes a task reports in its ``code`` while all is well (not errors)."""

    AUTO_LABEL_SUBMITTED = "ModelArts.4914"
    PRE_LABEL_SUBMITTED = "ModelArts.4950"
    GROUPING_SUBMITTED = "ModelArts.4960"
    AUTO_DEPLOY_SUBMITTED = "ModelArts.4900"
    DATA_TASK_SUBMITTED = "ModelArts.4900"  # publish, import, export and sync tasks
    MODEL_IMPORT_SUBMITTED = "ModelArts.4910"
    MODEL_IMPORTED = "ModelArts.4912"
    SUCCEEDED = "ModelArts.4996"
