"""Task kinds: one ``TaskRunner`` subclass per kind, found through one registry.

A kind lives in one module: its ``task_type``, ModelArts ``type`` code, submit/running/success
codes and messages, a typed ``Config`` read from the task's stored config, ``check`` (at
CreateTask, inside the request: no ML) and ``run`` (in a worker). ``BUILTIN_KINDS`` names the
built-in modules; ``Settings.runner_plugins`` adds or replaces kinds.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from labelpilot.errors import BadRequest, InvalidTaskType, NotAvailable, TaskAlreadyRunning

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from labelpilot.config import Settings
    from labelpilot.datasets.tables import Dataset
    from labelpilot.engine.context import RunContext


class TaskConfig(BaseModel):
    """Base of a kind's typed config, read from the stored ModelArts ``config`` object.

    Keys a kind does not use are ignored (the stored object keeps them for DescTask).
    Validators raise ``BadRequest`` with the field's name; it reaches the client unchanged.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


ConfigT = TypeVar("ConfigT", bound=TaskConfig)


class TaskResult(BaseModel):
    """What a run returns: fields merged into the task's ``result`` (free-form in the contract).

    The model a run used or made (``model_id``/``model_name``/``model_version``) also goes to the
    task's own columns, which ListTasks shows.
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None

    def fields(self) -> dict[str, Any]:
        """The result's fields as stored: every extra field, the model fields when set."""
        data = self.model_dump()
        return {k: v for k, v in data.items() if v is not None or k not in type(self).model_fields}


# Kinds ModelArts defines: a name here without a registered runner answers 501, not 400.
MODELARTS_KINDS = ("auto-label", "pre-label", "auto-grouping", "auto-deploy")
# Kinds ListTasks shows when no ``type`` is given (the seed's default).
DEFAULT_LIST_KINDS = ("auto-label", "pre-label")
# task_type -> "module:Class": the one registry entry of each built-in kind.
BUILTIN_KINDS: dict[str, str] = {
    "auto-label": "labelpilot.runners.autolabel:AutoLabelRunner",
    "auto-grouping": "labelpilot.runners.grouping:GroupingRunner",
    "auto-deploy": "labelpilot.runners.deploy:AutoDeployRunner",
    "pre-label": "labelpilot.runners.prelabel:PreLabelRunner",
    "publish-version": "labelpilot.runners.publish:PublishRunner",
    "export": "labelpilot.runners.export:ExportRunner",
    "import": "labelpilot.runners.importing:ImportRunner",
    "sync": "labelpilot.runners.importing:SyncRunner",
}

_CLASS_VARS = (
    "task_type",
    "type_code",
    "submit_code",
    "submit_message",
    "success_message",
    "running_error",
    "running_message",
    "Config",
)


class TaskRunner(ABC, Generic[ConfigT]):
    """What a task kind provides. Subclasses set every class variable below."""

    task_type: ClassVar[str]
    type_code: ClassVar[int]  # the ModelArts ``type`` integer
    submit_code: ClassVar[str]
    submit_message: ClassVar[str]
    success_message: ClassVar[str]
    running_error: ClassVar[type[TaskAlreadyRunning]]  # a task of the kind is already active
    running_message: ClassVar[str]
    Config: ClassVar[type[TaskConfig]]
    unique_names: ClassVar[bool] = False  # task names must be unique per dataset
    # dataset types the kind runs on (None: any; checked before the config) and its title
    dataset_types: ClassVar[tuple[int, ...] | None] = None
    title: ClassVar[str] = ""
    # An intelligent task: created by CreateTask and listed by ListTasks. A data task (import,
    # export, publish, sync) runs on the same engine but has its own routes, so CreateTask
    # refuses its name and ListTasks never shows it.
    intelligent: ClassVar[bool] = True
    # the dataset ``status`` shown while a task of the kind is active (None: unchanged)
    dataset_status: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstractmethods__", None):
            return
        missing = [name for name in _CLASS_VARS if not hasattr(cls, name)]
        if missing:
            raise TypeError(f"{cls.__name__} does not set {', '.join(missing)}")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def type(self) -> int:
        """The ``type`` integer of this kind's tasks (may depend on settings)."""
        return self.type_code

    def check_dataset(self, dataset: Dataset) -> None:
        """501 when the kind does not run on the dataset's type (yet)."""
        if self.dataset_types is not None and dataset.dataset_type not in self.dataset_types:
            raise NotAvailable(
                f"{self.title} is not supported for dataset type {dataset.dataset_type} yet"
            )

    def parse_config(self, raw: Mapping[str, Any], model_id: str | None = None) -> ConfigT:
        """The typed config: the stored config object plus the task's ``model_id`` if set.

        CreateTask and the worker read it the same way; bad values answer 400 naming the field.
        """
        data = dict(raw)
        if model_id:
            data["model_id"] = model_id
        try:
            config: ConfigT = self.Config.model_validate(data)  # type: ignore[assignment]
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise BadRequest(f"config.{where}: {err['msg']}") from exc
        return config

    @abstractmethod
    def check(self, session: Session, dataset: Dataset, config: ConfigT) -> None:
        """Raise a ``LabelPilotError`` when the task cannot start (no ML here)."""

    @abstractmethod
    def run(self, ctx: RunContext, config: ConfigT) -> TaskResult:
        """Run the task; return fields to merge into its ``result``."""


def load_object(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class KindRegistry:
    """The kinds of one process: built-ins plus ``settings.runner_plugins``, loaded on use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loaded: dict[str, TaskRunner[Any]] = {}

    def _paths(self) -> dict[str, str]:
        return {**BUILTIN_KINDS, **self.settings.runner_plugins}

    def names(self) -> list[str]:
        """Every task_type a client may send to CreateTask (ModelArts' kinds and plugins)."""
        installed = [name for name in self._paths() if self.get(name).intelligent]
        return list(dict.fromkeys([*MODELARTS_KINDS, *installed]))

    def intelligent(self, task_type: str, field: str = "task_type") -> TaskRunner[Any]:
        """The runner of an intelligent kind (CreateTask, ListTasks): 400 for a data task's name."""
        runner = self.get(task_type, field)
        if not runner.intelligent:
            raise InvalidTaskType(
                f"{field} '{task_type}' is invalid; allowed values: {', '.join(self.names())}"
            )
        return runner

    def get(self, task_type: str, field: str = "task_type") -> TaskRunner[Any]:
        """The runner of ``task_type``: 400 for an unknown name, 501 for one not installed."""
        runner = self._loaded.get(task_type)
        if runner is not None:
            return runner
        path = self._paths().get(task_type)
        if path is None:
            if task_type in MODELARTS_KINDS:
                raise NotAvailable(
                    f"task_type '{task_type}' is not available yet in this LabelPilot version"
                )
            raise InvalidTaskType(
                f"{field} '{task_type}' is invalid; allowed values: {', '.join(self.names())}"
            )
        cls = load_object(path)
        if not (isinstance(cls, type) and issubclass(cls, TaskRunner)):
            raise TypeError(f"{path} is not a TaskRunner")
        if cls.task_type != task_type:
            raise TypeError(f"{path} is registered as '{task_type}' but is '{cls.task_type}'")
        runner = cls(self.settings)
        self._loaded[task_type] = runner
        return runner

    def by_type(self, type_code: int) -> TaskRunner[Any] | None:
        """The installed kind whose tasks have ``type`` ``type_code``."""
        for name in self._paths():
            runner = self.get(name)
            if runner.type == type_code:
                return runner
        return None
