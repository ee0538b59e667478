"""Big uploads are checked in the validation process pool: while several are decoded and
searched for faces, /healthz and a JSON submission still answer within a second, and a
tenant past its share of concurrent validations gets 429 with Retry-After (uvicorn)."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from render_cli.local_redis import LocalRedis
from tests.conftest import SAMPLE_PORTRAIT, STORE_TEST_DB
from tests.stack import Stack, register_portrait, running_stack

TENANTS = ["t1", "t2", "t3"]
KEYS = {tenant: f"key-{tenant}" for tenant in [*TENANTS, "probe"]}
SIDE = 3000


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = f"redis://127.0.0.1:{redis_server.port}/{STORE_TEST_DB}"
    root = tmp_path_factory.mktemp("heavy")
    api_keys = ",".join(f"{tenant}:{key}" for tenant, key in KEYS.items())
    with running_stack(url, root, api_keys=api_keys) as running:
        running.start_api(
            probe="/healthz", validation_processes="1", tenant_concurrent_validations="1"
        )
        yield running


def big_portrait() -> bytes:
    """A 3000 px JPEG with grain: seconds of decoding and re-encoding, a face to find."""
    image = Image.open(SAMPLE_PORTRAIT).convert("RGB").resize((SIDE, SIDE))
    grain = np.random.default_rng(7).integers(-8, 8, (SIDE, SIDE, 3))
    pixels = np.clip(np.asarray(image, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=93)
    return buffer.getvalue()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process itself has used, its children not included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(stack: Stack, tenant: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {KEYS[tenant]}"}
    return httpx.Client(base_url=stack.api_url, headers=auth, timeout=120)


def test_health_and_submissions_stay_quick_while_big_uploads_are_checked(
    stack: Stack, tmp_path: Path
) -> None:
    with client(stack, "probe") as probe:
        character = register_portrait(probe)
    body = {"character_id": character["id"], "emotion": "sad", "size": 256, "fps": 5}
    data = big_portrait()
    answers: dict[str, int] = {}

    def upload(tenant: str) -> None:
        with client(stack, tenant) as mine:
            files = {"portrait": ("big.jpg", data, "image/jpeg")}
            answers[tenant] = mine.post("/v1/characters", files=files).status_code

    uploads = [threading.Thread(target=upload, args=(t,)) for t in TENANTS]
    assert stack.api is not None
    api_cpu = cpu_seconds(stack.api.pid)
    started = time.perf_counter()
    for thread in uploads:
        thread.start()
    health: list[float] = []
    submit: list[float] = []
    refused: httpx.Response | None = None
    with client(stack, "probe") as probe, client(stack, "t1") as second:
        time.sleep(0.3)
        while any(thread.is_alive() for thread in uploads):
            t0 = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            health.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert probe.post("/v1/renders", json=body).status_code == 202
            submit.append(time.perf_counter() - t0)
            if refused is None and uploads[0].is_alive():
                files = {"portrait": ("p.png", SAMPLE_PORTRAIT.read_bytes(), "image/png")}
                refused = second.post("/v1/characters", files=files)
            time.sleep(0.1)
    elapsed = time.perf_counter() - started
    api_cpu = cpu_seconds(stack.api.pid) - api_cpu
    assert answers == dict.fromkeys(TENANTS, 201)
    # The decoding and face finding ran elsewhere: the API process only moved bytes and
    # answered the probes (the same checks in its own threads take over 10 CPU seconds).
    assert api_cpu < 4.0, f"the API process itself used {api_cpu:.1f} CPU seconds"
    assert elapsed > 3.0 and len(health) >= 10, (elapsed, len(health))
    assert max(health) < 1.0, f"/healthz took up to {max(health):.2f} s"
    assert max(submit) < 1.0, f"a JSON submission took up to {max(submit):.2f} s"
    assert refused is not None and refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_validations"
    assert int(refused.headers["retry-after"]) >= 1
    logging.getLogger(__name__).warning(
        "uploads %.1f s (API process CPU %.1f s); /healthz max %.3f s, "
        "submission max %.3f s over %d probes",
        elapsed,
        api_cpu,
        max(health),
        max(submit),
        len(health),
    )
