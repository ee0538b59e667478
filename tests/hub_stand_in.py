"""A local HTTP server that answers like the Hugging Face Hub's file endpoint.

``/{repo_id}/resolve/{revision}/{path}``: HEAD gives the headers ``huggingface_hub`` reads
(X-Repo-Commit, ETag and X-Linked-Etag, Content-Length and X-Linked-Size) and GET serves
the bytes, honouring ``Range: bytes=N-`` with 206. Revisions are commits, each a map of
paths to contents; a branch names one of them. Tests can cut a file's downloads short to
interrupt them, and read the log of what was asked.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Served:
    """One file of one commit: its bytes and the ETag the Hub gives it (sha256 unless set)."""

    data: bytes
    etag: str = ""

    def __post_init__(self) -> None:
        self.etag = self.etag or hashlib.sha256(self.data).hexdigest()


@dataclass
class Request:
    method: str
    revision: str
    path: str
    range_start: int
    bytes_sent: int = 0


@dataclass
class StandInHub:
    repo_id: str
    commits: dict[str, dict[str, Served]]
    branches: dict[str, str]
    # path -> for each of its next GETs, how many bytes of the body to send before the
    # connection drops (0: none at all).
    cuts: dict[str, list[int]] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def gets(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.method == "GET" and r.path == path]


def files_of(weights_dir: Path, hub_prefix: str) -> dict[str, Served]:
    """Every file under ``weights_dir``, keyed by its path in the repository."""
    return {
        hub_prefix + path.relative_to(weights_dir).as_posix(): Served(path.read_bytes())
        for path in sorted(weights_dir.rglob("*"))
        if path.is_file()
    }


class _Handler(BaseHTTPRequestHandler):
    hub: StandInHub

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the hub's own log records what tests need."""

    def _not_found(self, code: str) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _lookup(self) -> tuple[str, str, Served] | None:
        prefix = f"/{self.hub.repo_id}/resolve/"
        if not self.path.startswith(prefix):
            self._not_found("RepoNotFound")
            return None
        revision, _, path = self.path[len(prefix) :].partition("/")
        commit = self.hub.branches.get(revision, revision)
        files = self.hub.commits.get(commit)
        if files is None:
            self._not_found("RevisionNotFound")
            return None
        served = files.get(path)
        if served is None:
            self._not_found("EntryNotFound")
            return None
        return commit, path, served

    def _headers(self, commit: str, served: Served, start: int) -> None:
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{served.etag}"')
        self.send_header("X-Linked-Etag", f'"{served.etag}"')
        self.send_header("X-Linked-Size", str(len(served.data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(served.data) - start))
        if start:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(served.data) - 1}/{len(served.data)}"
            )
        self.end_headers()

    def _range_start(self) -> int:
        header = self.headers.get("Range", "")
        if not header.startswith("bytes=") or not header.endswith("-"):
            return 0
        return int(header[len("bytes=") : -1])

    def do_HEAD(self) -> None:
        found = self._lookup()
        if found is None:
            return
        commit, path, served = found
        with self.hub.lock:
            self.hub.log.append(Request("HEAD", commit, path, 0))
        self._headers(commit, served, 0)

    def do_GET(self) -> None:
        found = self._lookup()
        if found is None:
            return
        commit, path, served = found
        start = self._range_start()
        request = Request("GET", commit, path, start)
        with self.hub.lock:
            self.hub.log.append(request)
            pending = self.hub.cuts.get(path, [])
            cut = pending.pop(0) if pending else None
        self._headers(commit, served, start)
        end = len(served.data) if cut is None else min(start + cut, len(served.data))
        self.wfile.write(served.data[start:end])
        request.bytes_sent = end - start
        if cut is not None:
            # Content-Length promised more: the client sees the body end early.
            self.close_connection = True


@contextmanager
def serve(hub: StandInHub) -> Iterator[str]:
    """Run the stand-in on a free loopback port; yields its base URL (for HF_ENDPOINT)."""
    handler = type("Handler", (_Handler,), {"hub": hub})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hub-stand-in", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
