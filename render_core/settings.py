"""The one place that reads the environment: every setting is ``RENDER_<NAME>``.

Factories take a ``Settings`` object (``create_app(settings)``, ``make_celery(settings)``),
so tests build settings directly instead of patching the environment.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from render_core.ice_servers import IceServer, parse_ice_servers
from render_core.storage_url import StorageLocation, parse_storage_url
from render_core.tenant_limits import Rate, TenantLimits, parse_tenant_limits

SEVEN_DAYS_S = 7 * 24 * 3600


def _default_storage_url() -> str:
    return (Path.cwd() / "var").resolve().as_uri()


def usable_cpus(cap: int) -> int:
    """CPUs this process may run on (its affinity, which containers and pinning narrow;
    macOS has no affinity call, so there it is every CPU)."""
    if hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count() or 1
    return max(1, min(cap, count))


class Settings(BaseSettings):
    """Configuration of the API, the workers and the CLI."""

    model_config = SettingsConfigDict(env_prefix="RENDER_", env_file=".env", extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Job store and Celery broker.")
    redis_socket_timeout_s: float = Field(
        5.0, gt=0, le=300, description="A Redis read gives up after this long (every client)."
    )
    redis_connect_timeout_s: float = Field(
        2.0, gt=0, le=300, description="A Redis connect gives up after this long."
    )
    redis_health_check_interval_s: int = Field(
        25, ge=0, le=3600, description="A pooled connection idle this long is checked first."
    )
    redis_retries: int = Field(
        3, ge=0, le=20, description="Retries of a Redis command whose connection failed."
    )
    redis_retry_on_timeout: bool = Field(
        True, description="Also retry a Redis command that timed out."
    )
    redis_wait_replicas: int | None = Field(
        None,
        ge=0,
        le=16,
        description="Replicas that must hold a submission before it is answered 202; "
        "default 1 with a sentinel:// URL, 0 (no wait) otherwise.",
    )
    redis_wait_timeout_ms: int = Field(
        1000, ge=1, le=60_000, description="Longest wait for those replicas; then 503."
    )
    storage_url: str = Field(
        default_factory=_default_storage_url,
        description="file:///path (local directory) or s3://bucket/prefix.",
    )
    api_keys: str = Field(
        "",
        description="tenant:key pairs, comma separated. Empty turns auth off (local runs only).",
    )
    queue: str = Field("render", description="Base name of the render queues.")
    max_attempts: int = Field(5, ge=1, le=50, description="Attempts before a job is failed.")
    retry_backoff_s: float = Field(2.0, gt=0, description="First retry delay; doubles, jittered.")
    retry_backoff_max_s: float = Field(300.0, gt=0, description="Longest retry delay.")
    visibility_timeout_s: int = Field(
        7200, ge=10, description="Redelivery after a lost ack; longer than the longest render."
    )
    time_limit_floor_s: float = Field(120.0, gt=0, description="Least time an attempt gets.")
    expected_frame_s: float = Field(
        2.0, gt=0, description="Budgeted seconds a frame, for per-job time limits."
    )
    lease_ttl_s: int = Field(
        30, ge=2, le=600, description="An attempt is presumed dead this long after its last sign."
    )
    heartbeat_interval_s: float = Field(
        5.0, gt=0, description="Worker heartbeat and reaper period."
    )
    orphan_age_s: float = Field(
        30.0, gt=0, description="A queued job with no sent message is re-sent after this long."
    )
    encode_threads: int = Field(
        default_factory=lambda: usable_cpus(cap=8),
        ge=1,
        le=64,
        description="Threads that encode and store a batch's frames (default: CPUs, at most 8).",
    )
    frame_batch_size: int = Field(16, ge=1, le=256, description="Frames rendered per batch.")
    first_batch_size: int = Field(
        2,
        ge=0,
        le=256,
        description="Frames in a clip's first batch, so its first frames are stored sooner "
        "(0: the same as frame_batch_size); LivePortrait captures a CUDA graph of this size.",
    )
    renderer: Literal["mock", "liveportrait"] = Field("mock", description="Worker renderer.")
    mock_frame_delay_s: float = Field(0.0, ge=0, description="Mock renderer sleep per frame.")
    mock_faults: bool = Field(
        False, description="Let the mock renderer obey metadata.mock_fault (tests only)."
    )
    weights_dir: Path = Field(Path("pretrained_weights/liveportrait"), description="Checkpoints.")
    weights_revision: str = Field(
        "main",
        description="Hub revision `weights download` fetches: a branch, tag or (pinned) commit.",
    )
    device: str = Field("cuda:0", description="LivePortrait worker device: cuda, cuda:N or cpu.")
    precision: Literal["fp16", "fp32"] = Field(
        "fp16", description="LivePortrait on CUDA: fp16 autocast (upstream's default) or fp32."
    )
    worker_start_timeout_s: float = Field(
        900.0, gt=0, description="Longest a worker process may take to load and warm up."
    )
    torch_compile: bool = Field(
        True, description="LivePortrait on CUDA: compile W+G at warm-up (needs a C compiler)."
    )
    cuda_graphs: bool = Field(
        True, description="LivePortrait on CUDA: replay W+G as a CUDA graph per batch."
    )
    source_cache_size: int = Field(
        32, ge=1, description="Prepared portraits a LivePortrait worker keeps in device memory."
    )
    face_models_dir: Path = Field(
        Path("pretrained_weights"),
        description="LivePortrait's bundle root (insightface/models/buffalo_l/*.onnx); "
        "without it faces are found by a bundled cascade.",
    )
    s3_endpoint_url: str = Field("", description="S3 endpoint; empty for AWS.")
    s3_public_url: str = Field("", description="Endpoint that clients reach, used for signing.")
    s3_region: str = Field("us-east-1", description="S3 region name.")
    presign_expiry_s: int = Field(3600, ge=1, le=SEVEN_DAYS_S, description="Presigned URL life.")
    flower_basic_auth: str = Field("", description="user:password for Flower.")
    worker_metrics_port: int = Field(0, ge=0, le=65535, description="Worker /metrics; 0 = off.")
    worker_nice: int = Field(
        0,
        ge=0,
        le=19,
        description="Lower the worker's CPU priority by this much (nice): on a host it shares "
        "with the API or Redis, they answer first while renders use the rest.",
    )
    worker_metrics_host: str = Field(
        "0.0.0.0", description="Interface of the worker's /metrics (Prometheus scrapes it)."
    )
    api_shutdown_grace_s: float = Field(
        10.0, gt=0, le=600, description="On SIGTERM, open requests (event streams) end after this."
    )
    job_retention_s: int = Field(
        SEVEN_DAYS_S,
        ge=60,
        description="A finished job's record (and what outputs are left) is deleted this long "
        "after it finished; the same age as the outputs' `storage gc --older-than 7d`.",
    )
    events_retention_s: int = Field(
        86_400, ge=60, description="How long a tenant's events are kept (SSE resume, webhooks)."
    )
    events_keepalive_s: float = Field(
        15.0, gt=0, le=300, description="A comment on idle event streams this often."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, le=120, description="One delivery's time limit.")
    webhook_retry_for_s: float = Field(
        86_400.0, gt=0, description="A delivery is retried this long, then dead-lettered."
    )
    webhook_backoff_s: float = Field(5.0, gt=0, description="First retry delay; doubles, jittered.")
    webhook_backoff_max_s: float = Field(3600.0, gt=0, description="Longest retry delay.")
    webhook_pause_after_s: float = Field(
        259_200.0, gt=0, description="An endpoint failing without a success this long is paused."
    )
    webhook_secret_grace_s: float = Field(
        86_400.0, ge=0, description="After a rotation the old secret also signs this long."
    )
    webhook_allow_http: bool = Field(False, description="Accept http:// webhook URLs.")
    webhook_allow_private_urls: bool = Field(
        False, description="Accept webhook hosts on private, loopback or link-local addresses."
    )
    webhook_concurrency: int = Field(16, ge=1, le=512, description="Deliveries in flight.")
    webhook_metrics_port: int = Field(0, ge=0, le=65535, description="Dispatcher /metrics; 0=off.")
    webhook_metrics_host: str = Field("0.0.0.0", description="Interface of dispatcher /metrics.")
    idempotency_lease_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="How long a request holds its Idempotency-Key; a retry meanwhile gets 409 "
        "with Retry-After, and one after it resumes the request's work.",
    )
    validation_processes: int = Field(
        2, ge=1, le=64, description="Processes that decode uploads and find faces for the API."
    )
    tenant_concurrent_validations: int = Field(
        2, ge=1, le=64, description="Uploads one tenant may have checked at once; 429 past that."
    )
    max_concurrent_uploads: int = Field(
        4, ge=1, le=256, description="Uploads an API process parses at once; 503 past that."
    )
    webrtc_max_sessions: int = Field(
        16, ge=0, le=1000, description="Live (WHEP) sessions one process holds; past it 503."
    )
    ice_servers: str = Field(
        "",
        description="STUN/TURN servers for live sessions, JSON as WebRTC takes them: "
        '[{"urls": "turn:host:3478", "username": "u", "credential": "p"}]. '
        "Empty: host candidates only.",
    )
    webrtc_udp_ports: str = Field(
        "", description="UDP port range of live sessions, MIN-MAX (empty: any free port)."
    )
    webrtc_public_ip: str = Field(
        "",
        description="Address announced in live sessions' candidates (a NAT's or a container's"
        " published address); empty: the interfaces' own.",
    )
    tenant_limits: str = Field(
        "",
        description="Per-tenant limits: tenant:queued=N,rate=N/s,burst=N,weight=W;tenant:...",
    )
    tenant_max_queued: int = Field(
        1000, ge=1, description="Default cap on a tenant's jobs queued or running."
    )
    tenant_rate: str = Field("50/s", description="Default submissions a tenant may make: N/s.")
    max_interactive_wait_s: float = Field(
        120.0, gt=0, description="Refuse (503) an interactive job expected to wait longer."
    )
    dispatch_ahead: float = Field(
        0.5,
        ge=0,
        le=100,
        description="Messages kept waiting in the broker per live worker slot, at least one "
        "(0: no limit, every job is sent at once and tenants are not taken in turn).",
    )
    cache: bool = Field(True, description="The content-addressed render cache (on/off).")
    log_json: bool = Field(True, description="Log JSON lines.")
    api_url: str = Field("http://127.0.0.1:8000", description="Where the CLI finds the API.")
    api_key: str = Field("", description="The CLI's API key (when auth is on).")

    @field_validator("api_keys")
    @classmethod
    def _api_keys_are_pairs(cls, value: str) -> str:
        for pair in filter(None, (p.strip() for p in value.split(","))):
            tenant, sep, key = pair.partition(":")
            if not sep or not tenant or not key:
                raise ValueError("RENDER_API_KEYS must be tenant:key pairs separated by commas")
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_url_parses(cls, value: str) -> str:
        parse_storage_url(value)
        return value

    @field_validator("webrtc_udp_ports")
    @classmethod
    def _port_range(cls, value: str) -> str:
        if value.strip():
            low, sep, high = value.strip().partition("-")
            if not (sep and low.isdigit() and high.isdigit() and 1024 <= int(low) <= int(high)):
                raise ValueError("RENDER_WEBRTC_UDP_PORTS must be MIN-MAX, 1024 <= MIN <= MAX")
            if int(high) > 65535:
                raise ValueError("RENDER_WEBRTC_UDP_PORTS: ports end at 65535")
        return value

    @field_validator("ice_servers")
    @classmethod
    def _ice_servers_parse(cls, value: str) -> str:
        parse_ice_servers(value)
        return value

    @cached_property
    def ice_server_list(self) -> list[IceServer]:
        """``ice_servers`` parsed (validated when the settings were read)."""
        return parse_ice_servers(self.ice_servers)

    @cached_property
    def udp_port_range(self) -> tuple[int, int] | None:
        """``webrtc_udp_ports`` as (min, max), or None for any free port."""
        if not self.webrtc_udp_ports.strip():
            return None
        low, _, high = self.webrtc_udp_ports.strip().partition("-")
        return int(low), int(high)

    @model_validator(mode="after")
    def _wait_fits_socket_timeout(self) -> Settings:
        waits = self.replicas_to_wait > 0
        if waits and self.redis_wait_timeout_ms / 1000 >= self.redis_socket_timeout_s:
            raise ValueError(
                "RENDER_REDIS_WAIT_TIMEOUT_MS must be shorter than RENDER_REDIS_SOCKET_TIMEOUT_S"
            )
        return self

    @property
    def replicas_to_wait(self) -> int:
        """``redis_wait_replicas``, or its default: 1 behind sentinels, else 0."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        return 1 if self.redis_url.startswith("sentinel://") else 0

    @field_validator("tenant_rate")
    @classmethod
    def _tenant_rate_parses(cls, value: str) -> str:
        Rate.parse(value)
        return value

    @model_validator(mode="after")
    def _tenant_limits_parse(self) -> Settings:
        try:
            parse_tenant_limits(self.tenant_limits, self.tenant_defaults)
        except ValueError as exc:
            raise ValueError(f"RENDER_TENANT_LIMITS: {exc}") from exc
        return self

    @cached_property
    def tenant_defaults(self) -> TenantLimits:
        """The limits of a tenant ``RENDER_TENANT_LIMITS`` does not name."""
        return TenantLimits(queued=self.tenant_max_queued, rate=Rate.parse(self.tenant_rate))

    @cached_property
    def limits_by_tenant(self) -> dict[str, TenantLimits]:
        return parse_tenant_limits(self.tenant_limits, self.tenant_defaults)

    def limits_for(self, tenant: str) -> TenantLimits:
        return self.limits_by_tenant.get(tenant, self.tenant_defaults)

    @cached_property
    def known_tenants(self) -> frozenset[str]:
        """Tenants named by the configuration: the closed label set of per-tenant metrics."""
        keyed = set(self.tenants_by_key.values()) if self.auth_enabled else {"local"}
        return frozenset(keyed | set(self.limits_by_tenant))

    def tenant_label(self, tenant: str) -> str:
        """A metric label: the tenant when configured, else ``other`` (bounded series)."""
        return tenant if tenant in self.known_tenants else "other"

    @cached_property
    def storage_location(self) -> StorageLocation:
        """Where objects go, parsed from ``storage_url`` (validated when the settings were read)."""
        return parse_storage_url(self.storage_url)

    @cached_property
    def tenants_by_key(self) -> dict[str, str]:
        """API key to tenant; empty when auth is off."""
        pairs = (p.strip() for p in self.api_keys.split(","))
        return {key: tenant for tenant, _, key in (p.partition(":") for p in pairs if p)}

    @property
    def auth_enabled(self) -> bool:
        return bool(self.tenants_by_key)
