"""Faces at registration over real HTTP: a faceless portrait is refused, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from render_cli.local_redis import LocalRedis
from tests import faces
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(redis_server.url, tmp_path_factory.mktemp("faces")) as s:
        s.start_worker("faces-mock")  # the API is ready only once a worker is
        s.start_api()
        yield s


def _register(stack: Stack, png: bytes) -> httpx.Response:
    return httpx.post(
        f"{stack.api_url}/v1/characters", files={"portrait": ("p.png", png)}, timeout=30.0
    )


def _written(stack: Stack) -> tuple[set[str], list[str]]:
    files = {p.relative_to(stack.storage_dir).as_posix() for p in stack.storage_dir.rglob("*")}
    client = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
    try:
        return files, sorted(client.scan_iter("ar:character:*"))
    finally:
        client.close()


def test_the_astronaut_is_registered_with_her_face(stack: Stack) -> None:
    response = _register(stack, faces.png(faces.astronaut()))
    assert response.status_code == 201, response.text
    shown = httpx.get(f"{stack.api_url}/v1/characters/{response.json()['id']}").json()
    assert shown == response.json()
    face = shown["face"]
    assert face["detector"] == "lbp-cascade" and face["score"] == 1.0
    box = face["box"]
    assert 165 <= box["left"] <= 190 and 260 <= box["right"] <= 290
    assert 55 <= box["top"] <= 90 and 150 <= box["bottom"] <= 195
    assert "crop_to_original" not in face  # stored with the character, not shown


@pytest.mark.parametrize("picture", ["blank", "noise", "landscape"])
def test_a_portrait_without_a_face_is_refused_and_nothing_is_written(
    stack: Stack, picture: str
) -> None:
    before = _written(stack)
    response = _register(stack, faces.png(getattr(faces, picture)()))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "no_face_found" and "face" in error["message"]
    assert _written(stack) == before


def test_of_two_faces_the_largest_is_kept(stack: Stack) -> None:
    canvas, big_left = faces.two_faces()
    response = _register(stack, faces.png(canvas))
    assert response.status_code == 201, response.text
    assert response.json()["face"]["box"]["left"] > big_left
