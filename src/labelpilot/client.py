"""Small httpx client for the LabelPilot / ModelArts v2 data-management API."""

from __future__ import annotations

import os
import uuid
import weakref
from collections.abc import Generator
from typing import Any
from urllib.parse import quote

import httpx

from labelpilot.auth.signing import sign_request

# Hop-by-hop headers may be rewritten by proxies, so they are sent but never signed.
_UNSIGNED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    },
)


class AkSkAuth(httpx.Auth):
    """Sign every request with SDK-HMAC-SHA256, as huaweicloudsdkcore's ``BasicCredentials`` do."""

    requires_request_body = True

    def __init__(self, ak: str, sk: str, project_id: str | None = None) -> None:
        self.ak, self.sk, self.project_id = ak, sk, project_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.setdefault("Content-Type", "application/json")
        if self.project_id:
            request.headers.setdefault("X-Project-Id", self.project_id)
        # The server refuses a signed write it has already accepted (replay guard), and
        # X-Sdk-Date has one-second resolution: a signed random id keeps two identical writes
        # sent within the same second distinct.
        request.headers.setdefault("X-Labelpilot-Nonce", uuid.uuid4().hex)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _UNSIGNED_HEADERS}
        url = str(request.url)
        request.headers.update(
            sign_request(request.method, url, headers, request.content, self.ak, self.sk)
        )
        yield request


class TokenAuth(httpx.Auth):
    """Send an IAM token in ``X-Auth-Token``."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self.token
        yield request


class ApiError(Exception):
    """A non-2xx response: HTTP status plus the ModelArts ``error_code`` and ``error_msg``."""

    def __init__(
        self, status: int, error_code: str, error_msg: str, request_id: str | None = None
    ) -> None:
        super().__init__(f"HTTP {status} {error_code}: {error_msg}")
        self.status, self.error_code, self.error_msg = status, error_code, error_msg
        self.request_id = request_id

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Read ``{"error_code", "error_msg"}``; like the SDK, other bodies become the message."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "error_code" in payload:
            code, msg = str(payload["error_code"]), str(payload.get("error_msg", ""))
        else:
            code, msg = str(response.status_code), response.text
        return cls(response.status_code, code, msg, response.headers.get("X-Request-Id"))


def _path(*segments: str) -> str:
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


def _ds(dataset_id: str, *segments: str) -> str:
    """Path of a dataset sub-resource, relative to ``/v2/{project_id}``."""
    return _path("datasets", dataset_id, *segments)


class LabelPilotClient:
    """ModelArts v2 dataset, sample, label and intelligent-task calls; AK/SK or token auth."""

    def __init__(
        self,
        base_url: str,
        project_id: str,
        *,
        ak: str | None = None,
        sk: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        auth: httpx.Auth
        if ak and sk:
            auth = AkSkAuth(ak, sk, project_id)
        elif token:
            auth = TokenAuth(token)
        else:
            raise ValueError("pass ak and sk, or token")
        self.project_id = project_id
        self._v1 = base_url.rstrip("/") + _path("v1", project_id)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + _path("v2", project_id),
            auth=auth,
            timeout=timeout,
            transport=transport,
        )
        # a client dropped without close() (the CLI's one-shot commands) still closes its sockets
        weakref.finalize(self, self._http.close)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LabelPilotClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(method, path, json=body, params=query)
        if not response.is_success:
            raise ApiError.from_response(response)
        return response.json() if response.content else {}

    def v1(self, method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        """A call under ``/v1/{project_id}`` (models, services)."""
        return self._request(method, self._v1 + path, body, params)

    # Models
    def create_model(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.v1("POST", "/models", body)

    def list_models(self, **params: Any) -> dict[str, Any]:
        return self.v1("GET", "/models", **params)

    def get_model(self, model_id: str) -> dict[str, Any]:
        return self.v1("GET", _path("models", model_id))

    def delete_model(self, model_id: str) -> dict[str, Any]:
        return self.v1("DELETE", _path("models", model_id))

    # Datasets
    def create_dataset(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", "/datasets", body)

    def get_dataset(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id), params=params)

    def list_datasets(self, **params: Any) -> dict[str, Any]:
        return self._request("GET", "/datasets", params=params)

    def delete_dataset(self, dataset_id: str) -> dict[str, Any]:
        return self._request("DELETE", _ds(dataset_id))

    # Dataset versions and export tasks (#13: versions/export)
    def create_version(self, dataset_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("POST", _ds(dataset_id, "versions"), body or {})

    def list_versions(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "versions"), params=params)

    def get_version(self, dataset_id: str, version_id: str) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "versions", version_id))

    def delete_version(self, dataset_id: str, version_id: str) -> dict[str, Any]:
        return self._request("DELETE", _ds(dataset_id, "versions", version_id))

    def create_import_task(self, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", _ds(dataset_id, "import-tasks"), body)

    def list_import_tasks(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "import-tasks"), params=params)

    def get_import_task(self, dataset_id: str, task_id: str) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "import-tasks", task_id))

    def sync_dataset(self, dataset_id: str) -> dict[str, Any]:
        return self._request("POST", _ds(dataset_id, "sync-data"), {})

    def get_sync_status(self, dataset_id: str) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "sync-data", "status"))

    def create_export_task(self, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", _ds(dataset_id, "export-tasks"), body)

    def list_export_tasks(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "export-tasks"), params=params)

    def get_export_task(self, dataset_id: str, task_id: str) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "export-tasks", task_id))

    def download_export(self, dataset_id: str, task_id: str, dest: str | os.PathLike[str]) -> int:
        """Stream a finished export's zip archive to ``dest``; the bytes written."""
        path = _ds(dataset_id, "export-tasks", task_id, "download")
        written = 0
        with self._http.stream("GET", path) as response:
            if not response.is_success:
                response.read()
                raise ApiError.from_response(response)
            with open(dest, "wb") as out:
                for chunk in response.iter_bytes():
                    written += out.write(chunk)
        return written

    # Samples
    def add_samples(
        self, dataset_id: str, samples: list[dict[str, Any]], final_annotation: bool = True
    ) -> dict[str, Any]:
        body = {"samples": samples, "final_annotation": final_annotation}
        return self._request("POST", _ds(dataset_id, "data-annotations", "samples"), body)

    def list_samples(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "data-annotations", "samples"), params=params)

    def get_sample(self, dataset_id: str, sample_id: str) -> dict[str, Any]:
        path = _ds(dataset_id, "data-annotations", "samples", sample_id)
        return self._request("GET", path)

    def update_samples(self, dataset_id: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
        path = _ds(dataset_id, "data-annotations", "samples")
        return self._request("PUT", path, {"samples": samples})

    def delete_samples(self, dataset_id: str, sample_ids: list[str]) -> dict[str, Any]:
        path = _ds(dataset_id, "data-annotations", "samples", "delete")
        return self._request("POST", path, {"samples": sample_ids})

    # Labels
    def create_labels(self, dataset_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        path = _ds(dataset_id, "data-annotations", "labels")
        return self._request("POST", path, {"labels": labels})

    def list_labels(self, dataset_id: str) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "data-annotations", "labels"))

    # Dataset update, label maintenance, statistics (issue #13: labels/stats)
    def update_dataset(self, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateDataset: ``dataset_name``, ``description``, ``add/update/delete_labels``."""
        return self._request("PUT", _ds(dataset_id), body)

    def update_labels(self, dataset_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch update; ``property["@modelarts:rename_to"]`` renames a label on every sample."""
        path = _ds(dataset_id, "data-annotations", "labels")
        return self._request("PUT", path, {"labels": labels})

    def delete_labels(
        self, dataset_id: str, names: list[str], delete_policy: int = 0
    ) -> dict[str, Any]:
        """Batch delete; policy 1 also deletes samples left unlabeled, 2 their files too."""
        path = _ds(dataset_id, "data-annotations", "labels", "delete")
        body = {"labels": [{"name": n} for n in names]}
        return self._request("POST", path, body, params={"delete_policy": delete_policy})

    def update_label(
        self, dataset_id: str, name: str, prop: dict[str, Any], label_type: int | None = None
    ) -> dict[str, Any]:
        """Merge a LabelProperty map into one label (``@modelarts:rename_to`` renames it)."""
        path = _ds(dataset_id, "data-annotations", "labels", name)
        return self._request("PUT", path, prop, params={"label_type": label_type})

    def delete_label(
        self, dataset_id: str, name: str, delete_source: bool = False
    ) -> dict[str, Any]:
        """Delete a label and the samples carrying only it (their files with delete_source)."""
        path = _ds(dataset_id, "data-annotations", "labels", name)
        return self._request("DELETE", path, params={"delete_source": str(delete_source).lower()})

    def get_stats(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        """GetDatasetStats: label, sample-state and hard-example statistics."""
        return self._request("GET", _ds(dataset_id, "data-annotations", "stats"), params=params)

    # Intelligent tasks
    def create_task(self, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", _ds(dataset_id, "tasks"), body)

    def list_tasks(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "tasks"), params=params)

    def get_task(self, dataset_id: str, task_id: str) -> dict[str, Any]:
        return self._request("GET", _ds(dataset_id, "tasks", task_id))

    def stop_task(self, dataset_id: str, task_id: str) -> dict[str, Any]:
        return self._request("POST", _ds(dataset_id, "tasks", task_id, "stop"))

    # Auto-labeling results
    def list_auto_annotations(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        path = _ds(dataset_id, "auto-annotations", "samples")
        return self._request("GET", path, params=params)

    def get_auto_annotation(self, dataset_id: str, sample_id: str) -> dict[str, Any]:
        path = _ds(dataset_id, "auto-annotations", "samples", sample_id)
        return self._request("GET", path)
