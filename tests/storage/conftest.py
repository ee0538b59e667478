"""Fixtures for the object-store suite: every backend, the S3 one on a real SeaweedFS."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from render_core.settings import Settings
from render_core.storage import LocalStore, ObjectStore
from render_core.storage.s3 import RetryBudget, S3Store
from render_core.storage_url import S3Location
from tests.seaweed import (
    ACCESS_KEY,
    INSTALL_HINT,
    SECRET_KEY,
    SeaweedServer,
    find_weed,
    running_seaweed,
)

# Two attempts and short timeouts: a dead server must fail a test in seconds, not minutes.
FAST_RETRY_BUDGET = RetryBudget(max_attempts=2, connect_timeout_s=1.0, read_timeout_s=5.0)
STORE_PREFIX = "store-prefix"


@pytest.fixture(scope="session")
def weed_binary() -> Path:
    weed = find_weed()
    if weed is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return weed


@pytest.fixture(scope="session")
def seaweed(weed_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    with running_seaweed(weed_binary, tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The server's keys in the standard AWS_* variables, the way boto3 finds them in
    production; no profile or config file of this machine can interfere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fresh_bucket(seaweed: SeaweedServer) -> str:
    name = f"test-{uuid.uuid4().hex[:16]}"
    seaweed.admin_client().create_bucket(Bucket=name)
    return name


PRESIGN_EXPIRY_S = 900


@pytest.fixture
def make_s3_store(
    seaweed: SeaweedServer, fresh_bucket: str, aws_credentials: None
) -> Callable[..., S3Store]:
    """Build an ``S3Store`` from settings, as ``open_store`` does, on the fresh bucket
    unless another is named."""

    def make(*, bucket: str = fresh_bucket, public_url: str = "") -> S3Store:
        settings = Settings(
            storage_url=f"s3://{bucket}/{STORE_PREFIX}",
            s3_endpoint_url=seaweed.endpoint_url,
            s3_public_url=public_url,
            presign_expiry_s=PRESIGN_EXPIRY_S,
        )
        location = settings.storage_location
        assert isinstance(location, S3Location)
        return S3Store.from_settings(settings, location, retry_budget=FAST_RETRY_BUDGET)

    return make


@pytest.fixture
def s3_store(make_s3_store: Callable[..., S3Store]) -> S3Store:
    return make_s3_store()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The same suite runs against every backend."""
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    s3: S3Store = request.getfixturevalue("s3_store")
    return s3
