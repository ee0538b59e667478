"""A private ``redis-server`` on a free loopback port, for the demo and the tests.

The server is a real Debian ``redis-server`` with AOF on, so a restart keeps the queue,
as it does in production.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from render_core.errors import ConfigurationError

INSTALL_HINT = "install it with: apt-get install -y redis-server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalRedis:
    """Start with ``start()`` (or as a context manager); ``url`` is its redis:// URL."""

    def __init__(
        self, data_dir: Path | None = None, port: int | None = None, *extra_args: str
    ) -> None:
        """``extra_args`` go to redis-server as they are (``--replicaof HOST PORT``)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigurationError(f"redis-server is not installed; {INSTALL_HINT}")
        self.binary = binary
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="avatar-redis-")
        self.data_dir = data_dir or Path(self._tmp.name if self._tmp else ".")
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> LocalRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--protected-mode", "yes",
            *self.extra_args,
        ]  # fmt: skip
        log = (self.data_dir / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready(timeout_s)
        return self

    def replica_of(self, primary: LocalRedis) -> LocalRedis:
        """Make this (not yet started) server a replica of ``primary``."""
        self.extra_args += ["--replicaof", "127.0.0.1", str(primary.port)]
        return self

    def wait_replicating(self, timeout_s: float = 30.0) -> None:
        """Return once this replica's link to its primary is up (its first sync done)."""
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2.0)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if client.info("replication").get("master_link_status") == "up":
                    return
                time.sleep(0.05)
        finally:
            client.close()
        raise ConfigurationError(f"the replica on {self.port} did not sync within {timeout_s} s")

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ConfigurationError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
            try:
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise ConfigurationError(f"redis-server did not answer within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class LocalSentinel:
    """A Redis Sentinel on a free loopback port watching ``service`` on ``primary_port``
    (Debian's ``redis-sentinel``; ``redis-server --sentinel`` where it is missing)."""

    def __init__(
        self,
        data_dir: Path,
        primary_port: int,
        service: str = "avatar-render",
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.config = "\n".join(
            [
                f"port {self.port}",
                "bind 127.0.0.1",
                f"dir {data_dir}",
                f"sentinel monitor {service} 127.0.0.1 {primary_port} {quorum}",
                f"sentinel down-after-milliseconds {service} {down_after_ms}",
                f"sentinel failover-timeout {service} {failover_timeout_ms}",
                f"sentinel parallel-syncs {service} 1",
                "",
            ]
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> LocalSentinel:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "sentinel.conf"  # sentinel rewrites it: its own file
        config.write_text(self.config)
        sentinel = shutil.which("redis-sentinel")
        server = shutil.which("redis-server")
        if sentinel is None and server is None:
            raise ConfigurationError(
                "redis-sentinel is not installed; install it with: apt-get install -y "
                "redis-sentinel"
            )
        args = [sentinel, str(config)] if sentinel else [str(server), str(config), "--sentinel"]
        log = (self.data_dir / "sentinel.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise ConfigurationError(f"redis-sentinel did not answer within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
