"""One error hierarchy, rendered as ``{"error_code": "ModelArts.XXXX", "error_msg": "..."}``."""

from __future__ import annotations


class LabelPilotError(Exception):
    """Base error: an HTTP status plus a ModelArts error code and message."""

    status_code: int = 400
    error_code: str = "ModelArts.0104"

    def __init__(
        self, error_msg: str, *, error_code: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(error_msg)
        self.error_msg = error_msg
        if error_code is not None:
            self.error_code = error_code
        if status_code is not None:
            self.status_code = status_code

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "error_msg": self.error_msg}


class BadRequest(LabelPilotError):
    """400: a query or body value is wrong; the message names the field."""

    status_code = 400
    error_code = "ModelArts.0104"


class NotFound(LabelPilotError):
    status_code = 404
    error_code = "ModelArts.4204"


class DatasetNotFound(NotFound):
    error_code = "ModelArts.4352"

    def __init__(self, dataset_id: str) -> None:
        super().__init__(f"Dataset {dataset_id} does not exist")


class TaskNotFound(NotFound):
    error_code = "ModelArts.4612"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task {task_id} not found")


class SampleNotFound(NotFound):
    error_code = "ModelArts.4420"

    def __init__(self, sample_id: str) -> None:
        super().__init__(f"Sample {sample_id} not found")


class Unauthorized(LabelPilotError):
    status_code = 401
    error_code = "ModelArts.0201"


class Forbidden(LabelPilotError):
    status_code = 403
    error_code = "ModelArts.0210"


class Conflict(LabelPilotError):
    """A task of the same kind is already running on the dataset (501 in ModelArts)."""

    status_code = 501
    error_code = "ModelArts.4386"


class NotAvailable(LabelPilotError):
    """501: a feature that is not built in this version; says so instead of faking it."""

    status_code = 501
    error_code = "ModelArts.4383"


class InternalError(LabelPilotError):
    status_code = 500
    error_code = "ModelArts.0010"
