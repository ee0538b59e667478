"""A small HTTP client for the render API, used by the CLI and the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from render_core.errors import RenderServiceError
from render_core.schema import JobStatus


class ApiError(RenderServiceError):
    """The API answered with an error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}", code=code)
        self.http_status = status


class RenderClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.is_error:
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "http_error", response.text[:200]
            raise ApiError(response.status_code, code, message)
        return response.json()

    def register_character(self, portrait: Path, name: str | None = None) -> dict[str, Any]:
        with portrait.open("rb") as handle:
            files = {"portrait": (portrait.name, handle, "application/octet-stream")}
            data = {"name": name} if name else {}
            result: dict[str, Any] = self._json(
                self.http.post("/v1/characters", files=files, data=data)
            )
            return result

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.post("/v1/renders", json=request))
        return result

    def register_webhook(self, url: str, events: list[str]) -> dict[str, Any]:
        """The answer carries the endpoint's secret (shown only here)."""
        body = {"url": url, "events": events}
        result: dict[str, Any] = self._json(self.http.post("/v1/webhooks", json=body))
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get(f"/v1/renders/{job_id}"))
        return result

    def manifest(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get(f"/v1/renders/{job_id}/manifest"))
        return result

    def frame(self, job_id: str, index: int) -> bytes:
        response = self.http.get(f"/v1/renders/{job_id}/frames/{index}", follow_redirects=True)
        if response.is_error:
            self._json(response)
        return response.content

    def wait(
        self,
        job_id: str,
        timeout_s: float = 600.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        poll_s: float = 0.2,
    ) -> dict[str, Any]:
        """Poll until the job is finished (or the timeout passes, which raises TimeoutError)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if JobStatus(job["status"]).is_terminal:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s} s")
            time.sleep(poll_s)
