"""Request and response models with the contract's field names and JSON types.

Requests ignore unknown fields (the contract says clients may send more); responses omit unset
fields, as the ModelArts examples do.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from labelpilot.api.untrusted import CheckedBody, Int32


class In(CheckedBody):
    """Base of request models: unknown fields are ignored, the raw body is checked first."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Out(BaseModel):
    """Base of response models."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Open(BaseModel):
    """Both directions; extra keys are kept (free maps with reserved keys)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --- sample label objects (request + response) -------------------------------------------


class SampleLabelProperty(Open):
    shape: str | None = Field(None, alias="@modelarts:shape")
    feature: Any | None = Field(None, alias="@modelarts:feature")
    start_index: int | None = Field(None, alias="@modelarts:start_index")
    end_index: int | None = Field(None, alias="@modelarts:end_index")
    from_: str | None = Field(None, alias="@modelarts:from")
    to: str | None = Field(None, alias="@modelarts:to")
    content: str | None = Field(None, alias="@modelarts:content")
    start_time: str | None = Field(None, alias="@modelarts:start_time")
    end_time: str | None = Field(None, alias="@modelarts:end_time")
    source: str | None = Field(None, alias="@modelarts:source")
    hard: str | None = Field(None, alias="@modelarts:hard")
    hard_coefficient: str | None = Field(None, alias="@modelarts:hard_coefficient")
    hard_reasons: str | None = Field(None, alias="@modelarts:hard_reasons")


class SampleMetadata(Open):
    hard: float | None = Field(None, alias="@modelarts:hard")
    hard_coefficient: float | None = Field(None, alias="@modelarts:hard_coefficient")
    hard_reasons: list[int] | None = Field(None, alias="@modelarts:hard_reasons")
    size: list[Any] | None = Field(None, alias="@modelarts:size")


class SampleLabel(Open):
    annotated_by: str | None = None
    id: str | None = None
    name: str | None = None
    property: SampleLabelProperty | None = None
    score: float | None = None
    type: Int32 | None = None


class SampleLabels(Open):
    labels: list[SampleLabel] | None = None
    metadata: SampleMetadata | None = None
    sample_id: str | None = None
    sample_type: Int32 | None = None
    sample_usage: str | None = None
    source: str | None = None
    worker_id: str | None = None


# --- SmartTaskConfig and its nested objects (request + response) --------------------------


class SearchLabel(Open):
    name: str | None = None
    op: str | None = None
    property: dict[str, list[str] | None] | None = None
    type: Int32 | None = None


class SearchLabels(Open):
    labels: list[SearchLabel] | None = None
    op: str | None = None


class SearchProp(Open):
    op: str | None = None
    props: dict[str, list[str]] | None = None


class SearchCondition(Open):
    coefficient: str | None = None
    frame_in_video: int | None = None
    hard: str | None = None
    import_origin: str | None = None
    kvp: str | None = None
    label_list: SearchLabels | None = None
    labeler: str | None = None
    metadata: SearchProp | None = None
    parent_sample_id: str | None = None
    sample_dir: str | None = None
    sample_name: str | None = None
    sample_time: str | None = None
    score: str | None = None
    slice_thickness: str | None = None
    study_date: str | None = None
    time_in_video: str | None = None


class ExportParams(Open):
    clear_hard_property: bool | None = None
    export_dataset_version_format: str | None = None
    export_dataset_version_name: str | None = None
    export_dest: str | None = None
    export_new_dataset_name: str | None = None
    export_new_dataset_work_path: str | None = None
    ratio_sample_usage: bool | None = None
    sample_state: str | None = None
    samples: list[str] | None = None
    search_conditions: list[SearchCondition] | None = None
    train_sample_ratio: str | None = None


class Flavor(Open):
    code: str | None = None


class InfConfig(Open):
    envs: dict[str, str] | None = None
    instance_count: int | None = None
    model_id: str | None = None
    specification: str | None = None
    weight: int | None = None


class TrainingParameter(Open):
    label: str | None = None
    value: str | None = None


class SmartTaskConfig(Open):
    algorithm_type: str | None = None
    ambiguity: bool | None = None
    annotation_output: str | None = None
    collect_rule: str | None = None
    collect_sample: bool | None = None
    confidence_scope: str | None = None
    description: str | None = None
    engine_name: str | None = None
    export_format: int | None = None
    export_params: ExportParams | None = None
    flavor: Flavor | None = None
    image_brightness: bool | None = None
    image_colorfulness: bool | None = None
    inf_cluster_id: str | None = None
    inf_config_list: list[InfConfig] | None = None
    inf_output: str | None = None
    infer_result_output_dir: str | None = None
    key_sample_output: str | None = None
    log_url: str | None = None
    manifest_path: str | None = None
    model_id: str | None = None
    model_name: str | None = None
    model_parameter: str | None = None
    model_version: str | None = None
    n_clusters: int | None = None
    name: str | None = None
    output_dir: str | None = None
    parameters: list[TrainingParameter] | None = None
    pool_id: str | None = None
    property: str | None = None
    req_uri: str | None = None
    result_type: int | None = None
    samples: list[SampleLabels] | None = None
    stop_time: int | None = None
    time: str | None = None
    train_data_path: str | None = None
    train_url: str | None = None
    version_format: str | None = None
    worker_server_num: int | None = None
    # LabelPilot extension (unknown to ModelArts; off unless sent)
    auto_accept_precision: float | None = Field(None, gt=0, lt=1)


# --- task responses -----------------------------------------------------------------------


class Event(Out):
    create_time: int | None = None
    description: str | None = None
    elapsed_time: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    events: list[Event] | None = None
    level: int | None = None
    name: str | None = None
    ordinal: int | None = None
    parent_name: str | None = None
    status: str | None = None


class HardSelectTask(Out):
    id: str | None = None
    create_at: int | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    hard_select_task_id: str | None = None
    task_status: str | None = None
    time: int | None = None
    update_at: int | None = None


class Result(Open):
    """Task result; runners may add LabelPilot-specific keys (kept as extra fields)."""

    annotated_sample_count: int | None = None
    confidence_scope: str | None = None
    continuity: bool | None = None
    dataset_name: str | None = None
    dataset_type: str | None = None
    description: str | None = None
    dlf_model_job_name: str | None = None
    dlf_service_job_name: str | None = None
    dlf_train_job_name: str | None = None
    events: list[Event] | None = None
    hard_example_path: str | None = None
    hard_select_tasks: list[HardSelectTask] | None = None
    manifest_path: str | None = None
    model_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    samples: list[SampleLabels] | None = None
    service_id: str | None = None
    service_name: str | None = None
    service_resource: str | None = None
    total_sample_count: int | None = None
    train_data_path: str | None = None
    train_job_id: str | None = None
    train_job_name: str | None = None
    unconfirmed_sample_count: int | None = None
    version_id: str | None = None
    version_name: str | None = None
    workspace_id: str | None = None


class RunningTask(Out):
    annotated_sample_count: int | None = None
    code: str | None = None
    config: SmartTaskConfig | None = None
    create_time: str | None = None
    dataset_id: str | None = None
    elapsed_time: int | None = None
    error_code: str | None = None
    error_detail: str | None = None
    error_msg: str | None = None
    export_type: int | None = None
    message: str | None = None
    model_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    progress: float | None = None
    result: Result | None = None
    status: int | None = None
    task_id: str | None = None
    task_name: str | None = None
    total_sample_count: int | None = None
    type: int | None = None
    unconfirmed_sample_count: int | None = None


class ListTasksResponse(Out):
    exist_running_deploy_task: bool
    tasks: list[RunningTask]
    total_count: int


class TaskDetail(Out):
    """DescTask response: flat, with ``resource_id`` and ``export_type``."""

    task_id: str | None = None
    task_name: str | None = None
    dataset_id: str | None = None
    type: int | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    progress: float | None = None
    create_time: str | None = None
    elapsed_time: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    error_detail: str | None = None
    resource_id: str | None = None
    export_type: int | None = None
    model_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    result: Result | None = None
    config: SmartTaskConfig | None = None


class CreateTaskRequest(In):
    task_type: str | None = None
    model_id: str | None = None
    collect_key_sample: bool | None = None
    config: SmartTaskConfig | None = None


class CreateTaskResponse(Out):
    task_id: str


# --- datasets, labels, samples ------------------------------------------------------------


class DataSource(Open):
    data_type: int | None = 0
    data_path: str | None = None
    with_column_header: bool | None = None


class LabelIn(Open):
    name: str = Field(min_length=1, max_length=256)
    type: Int32 | None = None
    property: dict[str, Any] | None = None
    attributes: list[dict[str, Any]] | None = None


class LabelOut(Out):
    name: str
    type: int
    property: dict[str, Any] = Field(default_factory=dict)
    attributes: list[dict[str, Any]] | None = None


class CreateDatasetRequest(In):
    dataset_name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")
    data_sources: list[DataSource] | None = None
    work_path: str | None = Field(None, max_length=700)
    work_path_type: Int32 | None = 0
    dataset_type: Int32 | None = None
    labels: list[LabelIn] | None = None
    description: str | None = Field(None, max_length=256, pattern=r"^[^\^!<>=&\"']*$")
    import_annotations: bool | None = True
    workspace_id: str | None = None


class CreateDatasetResponse(Out):
    dataset_id: str
    import_task_id: str | None = None  # the import of ``data_sources``, queued with the dataset


class DatasetOut(Out):
    dataset_id: str
    dataset_name: str
    dataset_type: int
    dataset_format: int = 0
    data_format: str = "Default"
    status: int
    description: str
    data_sources: list[DataSource] = Field(default_factory=list)
    work_path: str
    work_path_type: int
    inner_work_path: str
    inner_annotation_path: str
    inner_data_path: str
    inner_log_path: str
    inner_temp_path: str
    inner_task_path: str
    labels: list[LabelOut] = Field(default_factory=list)
    workspace_id: str
    create_time: int
    update_time: int
    total_sample_count: int
    annotated_sample_count: int
    unconfirmed_sample_count: int
    deleted_sample_count: int = 0
    exist_running_task: bool = False
    running_tasks_id: list[str] = Field(default_factory=list)
    feature_supports: list[str] = Field(default_factory=lambda: ["0"])


class ListDatasetsResponse(Out):
    datasets: list[DatasetOut]
    total_number: int


class LabelsRequest(In):
    labels: list[LabelIn] = Field(min_length=1)


class ListLabelsResponse(Out):
    labels: list[LabelOut]


class BatchResult(Out):
    success: bool
    name: str | None = None
    info: str | None = None
    error_code: str | None = None
    error_msg: str | None = None


class BatchResponse(Out):
    success: bool
    results: list[BatchResult] = Field(default_factory=list)
    error_code: str | None = None
    error_msg: str | None = None


class SampleIn(In):
    name: str | None = Field(None, max_length=1024)
    data: str | None = None
    data_source: DataSource | None = None
    sample_type: Int32 | None = None
    labels: list[SampleLabel] | None = None
    metadata: SampleMetadata | None = None
    encoding: str | None = None


class AddSamplesRequest(In):
    samples: list[SampleIn] = Field(min_length=1)
    final_annotation: bool | None = True


class UpdateSamplesRequest(In):
    samples: list[SampleLabels] = Field(min_length=1)
    email: str | None = None
    # LabelPilot extension (as in AddSamples): false writes the labels as "to be confirmed"
    final_annotation: bool | None = None


class DeleteSamplesRequest(In):
    samples: list[str] = Field(min_length=1)
    delete_source: bool | None = False


class SampleOut(Out):
    sample_id: str
    sample_type: int
    sample_name: str
    sample_dir: str
    sample_size: int
    sample_time: int
    sample_status: str
    source: str
    labels: list[SampleLabel] = Field(default_factory=list)
    metadata: SampleMetadata = Field(default_factory=lambda: SampleMetadata())


class ListSamplesResponse(Out):
    sample_count: int
    samples: list[SampleOut]
