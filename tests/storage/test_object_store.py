"""One suite for every ``ObjectStore`` backend, then what only S3 can do or get wrong.

The S3 backend runs against a real SeaweedFS server (``tests/seaweed.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from pydantic import ValidationError

from render_core.errors import ConfigurationError, NotFound, StorageUnavailable
from render_core.settings import Settings
from render_core.storage import LocalStore, ObjectInfo, ObjectStore, open_store
from render_core.storage.s3 import S3Store
from render_core.storage_url import LocalLocation, S3Location, parse_storage_url
from tests.seaweed import (
    READER_ACCESS_KEY,
    READER_SECRET_KEY,
    SECRET_KEY,
    SeaweedServer,
    running_seaweed,
)
from tests.storage.conftest import FAST_RETRY_BUDGET, PRESIGN_EXPIRY_S, STORE_PREFIX

MIB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    """A pattern with a prime period, so a chunk out of place or repeated cannot pass."""
    period = bytes((i * 31 + seed) % 256 for i in range(251))
    return (period * (size // len(period) + 1))[:size]


# --- the contract, against every backend ---------------------------------------------------


def test_put_bytes_then_get_bytes_round_trips(store: ObjectStore) -> None:
    store.put_bytes("renders/j1/1/manifest.json", b'{"ok": true}', "application/json")

    assert store.get_bytes("renders/j1/1/manifest.json") == b'{"ok": true}'


def test_put_file_round_trips(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "portrait.png"
    source.write_bytes(payload(70_000))

    store.put_file("characters/c1/portrait.png", source, "image/png")

    assert store.get_bytes("characters/c1/portrait.png") == source.read_bytes()


def test_iter_chunks_streams_a_multi_mib_object_in_bounded_chunks(store: ObjectStore) -> None:
    data = payload(3 * MIB + 123)
    store.put_bytes("renders/j1/1/clip.mp4", data, "video/mp4")

    chunks = list(store.iter_chunks("renders/j1/1/clip.mp4", chunk_size=MIB))

    assert b"".join(chunks) == data
    assert len(chunks) >= 4
    assert all(len(chunk) <= MIB for chunk in chunks)


def test_size_and_exists_describe_a_stored_object(store: ObjectStore) -> None:
    store.put_bytes("a/b.bin", payload(1234), "application/octet-stream")

    assert store.size("a/b.bin") == 1234
    assert store.exists("a/b.bin")
    assert not store.exists("a/other.bin")


def test_list_returns_only_that_prefix_sorted_with_sizes(store: ObjectStore) -> None:
    for key in (
        "renders/j1/1/manifest.json",
        "renders/j1/1/frames/000002.png",
        "renders/j1/1/frames/000000.png",
        "renders/j1/1/frames/000001.png",
        "renders/j10/1/manifest.json",
        "renders/j2/1/frames/000000.png",
        "characters/c1/portrait.png",
    ):
        store.put_bytes(key, key.encode(), "application/octet-stream")

    listed = store.list("renders/j1/")

    assert listed == [
        ObjectInfo(key=key, size=len(key))
        for key in (
            "renders/j1/1/frames/000000.png",
            "renders/j1/1/frames/000001.png",
            "renders/j1/1/frames/000002.png",
            "renders/j1/1/manifest.json",
        )
    ]
    assert [info.key for info in store.list("renders/j1/1/frames/00000")] == [
        "renders/j1/1/frames/000000.png",
        "renders/j1/1/frames/000001.png",
        "renders/j1/1/frames/000002.png",
    ]


def test_list_of_an_unknown_prefix_is_empty(store: ObjectStore) -> None:
    store.put_bytes("renders/j1/1/manifest.json", b"{}", "application/json")

    assert store.list("renders/nobody/") == []


def test_delete_removes_the_object_and_ignores_a_missing_one(store: ObjectStore) -> None:
    store.put_bytes("renders/j1/1/clip.mp4", b"mp4", "video/mp4")
    store.put_bytes("renders/j1/1/manifest.json", b"{}", "application/json")

    store.delete("renders/j1/1/clip.mp4")
    store.delete("renders/j1/1/never-written.png")

    assert not store.exists("renders/j1/1/clip.mp4")
    assert [info.key for info in store.list("renders/")] == ["renders/j1/1/manifest.json"]


def test_delete_prefix_deletes_everything_under_it_and_counts(store: ObjectStore) -> None:
    doomed = [f"renders/j1/1/frames/{i:06d}.png" for i in range(5)] + ["renders/j1/2/clip.mp4"]
    kept = ["renders/j2/1/manifest.json", "characters/c1/portrait.png"]
    for key in doomed + kept:
        store.put_bytes(key, b"x", "application/octet-stream")

    assert store.delete_prefix("renders/j1/") == len(doomed)
    assert store.delete_prefix("renders/j1/") == 0
    assert sorted(info.key for info in store.list("")) == sorted(kept)


def test_missing_keys_raise_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFound):
        store.get_bytes("renders/missing/1/manifest.json")
    with pytest.raises(NotFound):
        store.size("renders/missing/1/manifest.json")
    with pytest.raises(NotFound):
        next(store.iter_chunks("renders/missing/1/clip.mp4"))


def test_overwrite_is_atomic_for_a_concurrent_reader(store: ObjectStore) -> None:
    versions = (payload(MIB, seed=1), payload(MIB + 77, seed=2))
    store.put_bytes("renders/j1/1/clip.mp4", versions[0], "video/mp4")

    def overwrite_repeatedly() -> None:
        for round_number in range(12):
            store.put_bytes("renders/j1/1/clip.mp4", versions[round_number % 2], "video/mp4")

    writer = threading.Thread(target=overwrite_repeatedly)
    writer.start()
    seen = []
    while writer.is_alive():
        seen.append(store.get_bytes("renders/j1/1/clip.mp4"))
    writer.join(timeout=30)

    assert seen and all(data in versions for data in seen)
    assert store.get_bytes("renders/j1/1/clip.mp4") == versions[1]
    assert store.size("renders/j1/1/clip.mp4") == len(versions[1])
    assert [info.key for info in store.list("renders/")] == ["renders/j1/1/clip.mp4"]


def test_nested_keys_keep_their_full_path(store: ObjectStore) -> None:
    key = "characters/c-7/cache/liveportrait/v1/source/feature_volume.npy"
    store.put_bytes(key, b"state", "application/octet-stream")

    assert store.get_bytes(key) == b"state"
    assert store.list("characters/c-7/") == [ObjectInfo(key=key, size=5)]


@pytest.mark.parametrize("bad_key", ["../escape.png", "/absolute.png", ""])
def test_keys_that_escape_the_store_are_refused(store: ObjectStore, bad_key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        store.put_bytes(bad_key, b"x", "image/png")


def test_check_passes_on_a_usable_store_and_leaves_nothing_behind(store: ObjectStore) -> None:
    store.check()

    assert store.list("") == []


# --- S3 only ------------------------------------------------------------------------------


def test_s3_url_names_bucket_and_prefix() -> None:
    assert parse_storage_url("s3://frames") == S3Location("frames", "")
    assert parse_storage_url("s3://frames/") == S3Location("frames", "")
    assert parse_storage_url("s3://frames/prod/eu/") == S3Location("frames", "prod/eu/")
    assert parse_storage_url("file:///tmp/x%20y") == LocalLocation(Path("/tmp/x y"))


@pytest.mark.parametrize("url", ["s3:///no-bucket", "http://host/x", "file://", "frames"])
def test_a_malformed_storage_url_is_refused_when_settings_are_read(url: str) -> None:
    with pytest.raises(ValidationError, match="file:///path or s3://bucket/prefix"):
        Settings(storage_url=url)


def test_open_store_chooses_s3_for_an_s3_url() -> None:
    settings = Settings(storage_url="s3://frames/prod", s3_endpoint_url="http://127.0.0.1:1")

    store = open_store(settings)

    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.endpoint_url) == (
        "frames",
        "prod/",
        "http://127.0.0.1:1",
    )


def test_the_local_backend_does_not_import_boto3() -> None:
    """boto3 is the optional extra ``s3``: choosing a backend must not need it."""
    code = (
        "import sys; from render_core.storage import open_store; "
        "from render_core.settings import Settings; "
        "open_store(Settings(storage_url='file:///tmp/objects')); "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    )

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_keys_live_under_the_url_prefix_in_the_bucket(
    s3_store: S3Store, seaweed: SeaweedServer
) -> None:
    s3_store.put_bytes("renders/j1/1/manifest.json", b"{}", "application/json")

    listing = seaweed.admin_client().list_objects_v2(Bucket=s3_store.bucket)

    assert [item["Key"] for item in listing["Contents"]] == [
        f"{STORE_PREFIX}/renders/j1/1/manifest.json"
    ]


def test_put_keeps_the_content_type(s3_store: S3Store, seaweed: SeaweedServer) -> None:
    s3_store.put_bytes("renders/j1/1/manifest.json", b"{}", "application/json")

    head = seaweed.admin_client().head_object(
        Bucket=s3_store.bucket, Key=f"{STORE_PREFIX}/renders/j1/1/manifest.json"
    )

    assert head["ContentType"] == "application/json"


def test_presigned_url_serves_the_bytes_to_a_plain_http_client(s3_store: S3Store) -> None:
    data = payload(50_000)
    s3_store.put_bytes("renders/j1/1/frames/000000.png", data, "image/png")

    url = s3_store.presigned_url("renders/j1/1/frames/000000.png")
    response = httpx.get(url, timeout=10)

    assert response.status_code == 200
    assert response.content == data
    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == [str(PRESIGN_EXPIRY_S)]


def test_presigned_url_is_signed_for_the_public_host(
    make_s3_store: Callable[..., S3Store], seaweed: SeaweedServer
) -> None:
    public_url = f"http://localhost:{seaweed.s3_port}"
    store = make_s3_store(public_url=public_url)
    store.put_bytes("renders/j1/1/clip.mp4", b"public bytes", "video/mp4")

    url = store.presigned_url("renders/j1/1/clip.mp4")
    rewritten_to_internal_host = url.replace(public_url, seaweed.endpoint_url)

    assert url.startswith(f"{public_url}/{store.bucket}/{STORE_PREFIX}/renders/j1/1/clip.mp4?")
    assert httpx.get(url, timeout=10).content == b"public bytes"
    # The host is part of the signature: the same URL aimed at another host is refused.
    assert httpx.get(rewritten_to_internal_host, timeout=10).status_code == 403


def test_large_file_goes_up_in_parts_and_round_trips(
    s3_store: S3Store, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(os.urandom(9 * MIB + 7))

    s3_store.put_file("renders/j1/1/clip.mp4", source, "video/mp4")

    assert s3_store.get_bytes("renders/j1/1/clip.mp4") == source.read_bytes()
    head = seaweed.admin_client().head_object(
        Bucket=s3_store.bucket, Key=f"{STORE_PREFIX}/renders/j1/1/clip.mp4"
    )
    # A multipart object's ETag ends in "-<number of parts>".
    assert head["ETag"].strip('"').endswith("-2")


def test_delete_prefix_spans_more_than_one_delete_batch(
    s3_store: S3Store, seaweed: SeaweedServer
) -> None:
    admin = seaweed.admin_client()
    keys = [f"renders/j1/1/frames/{i:06d}.png" for i in range(1005)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda key: admin.put_object(
                    Bucket=s3_store.bucket, Key=f"{STORE_PREFIX}/{key}", Body=b""
                ),
                keys,
            )
        )

    assert [info.key for info in s3_store.list("renders/j1/")] == keys
    assert s3_store.delete_prefix("renders/j1/") == 1005
    assert s3_store.list("") == []


def test_wrong_credentials_fail_the_start_up_check(
    s3_store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY + "-wrong")
    store = S3Store(
        s3_store.bucket,
        endpoint_url=s3_store.endpoint_url,
        retry_budget=FAST_RETRY_BUDGET,
    )

    with pytest.raises(ConfigurationError, match="refused our credentials to read") as raised:
        store.check()
    assert s3_store.bucket in raised.value.message
    with pytest.raises(StorageUnavailable):
        store.put_bytes("renders/j1/1/manifest.json", b"{}", "application/json")


def test_read_only_credentials_fail_the_start_up_check(
    s3_store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER_SECRET_KEY)
    store = S3Store(
        s3_store.bucket, endpoint_url=s3_store.endpoint_url, retry_budget=FAST_RETRY_BUDGET
    )

    with pytest.raises(ConfigurationError, match="refused our credentials to write"):
        store.check()


def test_missing_bucket_fails_the_start_up_check(
    make_s3_store: Callable[..., S3Store], seaweed: SeaweedServer
) -> None:
    store = make_s3_store(bucket="no-such-bucket-here")

    with pytest.raises(ConfigurationError, match="'no-such-bucket-here'.*does not exist") as raised:
        store.check()
    assert seaweed.endpoint_url in raised.value.message


@contextmanager
def always_slow_down_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that answers every request as S3 does while it throttles
    (503 SlowDown), which no real test server can be made to do; yields its URL and the
    requests it saw."""
    seen: list[str] = []

    class SlowDown(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = (
                b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
            )
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``seen``, not stderr."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowDown)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_slow_down_is_retried_then_reported_as_storage_unavailable(
    aws_credentials: None,
) -> None:
    with always_slow_down_server() as (endpoint_url, seen):
        store = S3Store("frames", endpoint_url=endpoint_url, retry_budget=FAST_RETRY_BUDGET)

        with pytest.raises(StorageUnavailable, match="SlowDown"):
            store.get_bytes("renders/j1/1/manifest.json")

    assert seen == ["/frames/renders/j1/1/manifest.json"] * FAST_RETRY_BUDGET.max_attempts


def _write_from_child(store: S3Store) -> None:
    store.put_bytes("renders/j1/1/from-child.txt", str(os.getpid()).encode(), "text/plain")


def test_a_forked_child_uses_the_store_it_inherited(s3_store: S3Store) -> None:
    """The parent has a live client when it forks; the child must build its own."""
    s3_store.put_bytes("renders/j1/1/from-parent.txt", b"parent", "text/plain")
    child = multiprocessing.get_context("fork").Process(target=_write_from_child, args=(s3_store,))

    child.start()
    child.join(timeout=30)

    assert child.exitcode == 0
    assert s3_store.get_bytes("renders/j1/1/from-child.txt") == str(child.pid).encode()
    assert s3_store.get_bytes("renders/j1/1/from-parent.txt") == b"parent"


def test_a_stopped_server_raises_storage_unavailable_in_bounded_time(
    weed_binary: Path, tmp_path: Path, aws_credentials: None
) -> None:
    with running_seaweed(weed_binary, tmp_path) as server:
        server.admin_client().create_bucket(Bucket="short-lived")
        store = S3Store(
            "short-lived", endpoint_url=server.endpoint_url, retry_budget=FAST_RETRY_BUDGET
        )
        store.put_bytes("renders/j1/1/manifest.json", b"{}", "application/json")
        server.stop()

        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            store.get_bytes("renders/j1/1/manifest.json")
        with pytest.raises(StorageUnavailable):
            store.put_bytes("renders/j1/1/clip.mp4", b"mp4", "video/mp4")
        with pytest.raises(ConfigurationError, match="cannot be used"):
            store.check()
        assert time.monotonic() - started < 15


def test_local_objects_get_the_permissions_of_a_plain_create(tmp_path: Path) -> None:
    """Not mkstemp's 0600: a worker running as another user must read the API's files."""
    store = LocalStore(tmp_path)
    store.put_bytes("a/b.bin", b"x", "application/octet-stream")
    (tmp_path / "plain").write_bytes(b"x")
    assert (tmp_path / "a" / "b.bin").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_a_local_prefix_deleted_leaves_no_empty_folders(tmp_path: Path) -> None:
    """As in S3, an emptied prefix is gone: a cancelled attempt leaves no frames/ folder."""
    store = LocalStore(tmp_path)
    for key in ("renders/j/1/frames/0.png", "renders/j/1/manifest.json", "renders/j/2/a.png"):
        store.put_bytes(key, b"x", "image/png")
    assert store.delete_prefix("renders/j/1/") == 2
    assert not (tmp_path / "renders" / "j" / "1").exists()
    assert store.get_bytes("renders/j/2/a.png") == b"x"  # the sibling attempt is untouched
    store.put_bytes("renders/j/1/frames/0.png", b"y", "image/png")  # the folder comes back
    assert store.get_bytes("renders/j/1/frames/0.png") == b"y"


def test_a_local_string_prefix_prunes_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("renders/j1/a.png", b"x", "image/png")
    store.put_bytes("renders/j10/b.png", b"x", "image/png")
    assert store.delete_prefix("renders/j1") == 2  # a plain string prefix, as S3 has it
    assert (tmp_path / "renders" / "j1").is_dir() and (tmp_path / "renders" / "j10").is_dir()
