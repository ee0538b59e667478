"""``avatar-render weights download`` against a local stand-in for the Hub.

The command runs as a real process with HF_ENDPOINT pointing at a real HTTP server that
serves the conformance kit's synthetic checkpoint files, so ``huggingface_hub`` does its
real HEAD/GET/Range traffic, caching and resuming.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import child_env
from tests.hub_stand_in import Served, StandInHub, files_of, serve
from workers.renderers.liveportrait.fingerprint import weights_fingerprint
from workers.renderers.liveportrait.manifest import file_spec
from workers.renderers.liveportrait.weights_download import HUB_REPO

GOOD = "1" * 40
CORRUPT = "2" * 40
INCOMPLETE = "3" * 40
SPADE = file_spec("spade_generator.pth").hub_path
MOTION = file_spec("motion_extractor.pth").hub_path
APPEARANCE = file_spec("appearance_feature_extractor.pth").hub_path
STITCHING = file_spec("stitching_retargeting_module.pth").hub_path


@dataclass
class Hub:
    state: StandInHub
    url: str
    kit_fingerprint: str


@pytest.fixture(scope="module")
def hub(synthetic_weights_dir: Path) -> Iterator[Hub]:
    good = files_of(synthetic_weights_dir, "liveportrait/")
    appearance = good[APPEARANCE].data
    flipped = appearance[: len(appearance) // 2] + bytes([appearance[len(appearance) // 2] ^ 1])
    corrupt = {
        **good,
        # Bytes that differ from the sha256 the Hub names them by (a flipped bit) ...
        APPEARANCE: Served(flipped + appearance[len(flipped) :], etag=good[APPEARANCE].etag),
        # ... and a file the Hub describes truthfully but that is not a whole checkpoint.
        STITCHING: Served(good[STITCHING].data[: len(good[STITCHING].data) // 2]),
    }
    incomplete = {path: served for path, served in good.items() if path != MOTION}
    state = StandInHub(
        repo_id=HUB_REPO,
        commits={GOOD: good, CORRUPT: corrupt, INCOMPLETE: incomplete},
        branches={"main": GOOD},
    )
    with serve(state) as url:
        yield Hub(state, url, weights_fingerprint(synthetic_weights_dir))


def _download(
    hub: Hub, home: Path, weights: Path, *revision: str
) -> subprocess.CompletedProcess[str]:
    env = child_env(log_json="false")
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_HUB_CACHE=str(home / "hub"))
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run(
        [sys.executable, "-m", "render_cli", "weights", "download", str(weights), *revision],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _files(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def test_download_fetches_the_manifest_files_at_one_commit_and_prints_the_fingerprint(
    hub: Hub, tmp_path: Path
) -> None:
    weights = tmp_path / "weights"
    result = _download(hub, tmp_path / "hf", weights)
    assert result.returncode == 0, result.stderr
    assert f"commit: {GOOD}" in result.stdout
    assert f"fingerprint: {hub.kit_fingerprint}" in result.stdout
    assert "synthetic: yes" in result.stdout
    assert _files(weights) == sorted(
        file_spec(name).relative_path
        for name in (
            "appearance_feature_extractor.pth",
            "motion_extractor.pth",
            "warping_module.pth",
            "spade_generator.pth",
            "stitching_retargeting_module.pth",
        )
    )
    assert weights_fingerprint(weights) == hub.kit_fingerprint
    # "main" was resolved once; every file then came from the commit it named.
    fetched = [r for r in hub.state.log if r.method == "GET"]
    assert fetched and {r.revision for r in fetched} == {GOOD}


def test_a_dropped_download_resumes_from_the_bytes_already_received(
    hub: Hub, tmp_path: Path
) -> None:
    weights = tmp_path / "weights"
    chunk = 24 << 20
    hub.state.cuts[SPADE] = [chunk, chunk]  # the connection drops twice mid-file
    before = len(hub.state.gets(SPADE))
    result = _download(hub, tmp_path / "hf", weights, "--revision", GOOD)
    assert result.returncode == 0, result.stderr
    gets = hub.state.gets(SPADE)[before:]
    size = len(hub.state.commits[GOOD][SPADE].data)
    # Each new request asks for the rest from what was kept, and no byte comes twice but
    # the part of a chunk lost with a dropped connection.
    starts = [r.range_start for r in gets]
    assert len(gets) == 3 and starts[0] == 0 < starts[1] < starts[2] <= 2 * chunk
    assert gets[2].bytes_sent == size - starts[2]
    assert weights_fingerprint(weights) == hub.kit_fingerprint


def test_a_run_that_gives_up_keeps_finished_files_for_the_next(hub: Hub, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    home = tmp_path / "hf"
    # The network goes away during one file: every attempt gets no byte, and
    # huggingface_hub's retries run out.
    hub.state.cuts[SPADE] = [0] * 20
    first = _download(hub, home, weights, "--revision", GOOD)
    del hub.state.cuts[SPADE]  # the network is back
    assert first.returncode == 1
    assert f"{SPADE} at {GOOD}" in first.stderr
    assert not weights.exists() or _files(weights) == []

    before = len(hub.state.log)
    second = _download(hub, home, weights, "--revision", GOOD)
    assert second.returncode == 0, second.stderr
    fetched = {r.path for r in hub.state.log[before:] if r.method == "GET"}
    # The files finished before the failure come from the cache; only the rest is fetched.
    assert fetched == {SPADE, STITCHING}
    assert f"fingerprint: {hub.kit_fingerprint}" in second.stdout
    assert weights_fingerprint(weights) == hub.kit_fingerprint


def test_corrupted_files_are_deleted_named_and_never_reach_the_weights_dir(
    hub: Hub, tmp_path: Path
) -> None:
    weights = tmp_path / "weights"
    home = tmp_path / "hf"
    result = _download(hub, home, weights, "--revision", CORRUPT)
    assert result.returncode == 1
    assert "2 file(s)" in result.stderr and "failed verification" in result.stderr
    assert f"{APPEARANCE}: sha256" in result.stderr
    assert f"{STITCHING}: not a loadable PyTorch checkpoint" in result.stderr
    assert not weights.exists() or _files(weights) == []
    snapshot = home / "hub" / "models--KwaiVGI--LivePortrait" / "snapshots" / CORRUPT
    cached = _files(snapshot)
    assert APPEARANCE not in cached and STITCHING not in cached and SPADE in cached
    # The good commit then installs cleanly from the same cache.
    again = _download(hub, home, weights, "--revision", GOOD)
    assert again.returncode == 0, again.stderr
    assert weights_fingerprint(weights) == hub.kit_fingerprint


def test_a_file_missing_on_the_hub_fails_with_its_name_and_writes_nothing(
    hub: Hub, tmp_path: Path
) -> None:
    weights = tmp_path / "weights"
    result = _download(hub, tmp_path / "hf", weights, "--revision", INCOMPLETE)
    assert result.returncode == 1
    assert f"{MOTION} at {INCOMPLETE}: the Hub repository has no such file" in result.stderr
    assert not weights.exists() or _files(weights) == []


def test_an_unknown_revision_is_refused(hub: Hub, tmp_path: Path) -> None:
    result = _download(hub, tmp_path / "hf", tmp_path / "weights", "--revision", "nope")
    assert result.returncode == 1
    assert "resolving revision 'nope': the Hub has no such revision" in result.stderr
