"""Print and check the outcome of the ARM64 proof's render, as the API and storage show it.

Exit 0 only when the job succeeded, its manifest names the expected renderer and the
machine it ran on, lists as many frames as it claims, and every listed frame is on disk
with the size and sha256 it gives.
"""

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import httpx


def fetch(client: httpx.Client, path: str) -> dict[str, Any]:
    response = client.get(path)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def bad_frames(manifest: dict[str, Any], storage: Path) -> list[str]:
    """Keys of listed frames that are missing on disk or differ from the manifest."""
    bad = []
    for frame in manifest["frames"]:
        path = storage / frame["key"]
        if not path.is_file():
            bad.append(f"{frame['key']} (missing)")
            continue
        data = path.read_bytes()
        if len(data) != frame["size"] or hashlib.sha256(data).hexdigest() != frame["sha256"]:
            bad.append(f"{frame['key']} (size or sha256 differ)")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--api-key", default="")
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--renderer", default="mock", help="the renderer the manifest must name")
    parser.add_argument("--machine", required=True, help="the worker's machine, e.g. aarch64")
    parser.add_argument("job_id")
    args = parser.parse_args()

    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    with httpx.Client(base_url=args.api_url, headers=headers, timeout=30.0) as client:
        job = fetch(client, f"/v1/renders/{args.job_id}")
        print(f"job {job['id']}: status={job['status']} worker={job.get('worker')}")
        if job["status"] != "succeeded":
            print(f"error: {job.get('error')}")
            return 1
        manifest = fetch(client, f"/v1/renders/{args.job_id}/manifest")

    renderer = manifest["renderer"]
    frames = manifest["frames"]
    print(
        f"manifest: renderer={renderer['name']} version={renderer['version']} "
        f"machine={renderer.get('machine')} device={renderer.get('device')} "
        f"synthetic_weights={renderer.get('synthetic_weights')} "
        f"weights={renderer.get('weights_fingerprint')}"
    )
    print(
        f"manifest: frame_count={manifest['frame_count']} frames_listed={len(frames)} "
        f"size={manifest['width']}x{manifest['height']} fps={manifest['fps']} "
        f"timings_ms={manifest.get('timings_ms')}"
    )
    problems = bad_frames(manifest, args.storage)
    for problem in problems:
        print(f"bad frame: {problem}")
    named = renderer["name"] == args.renderer and renderer.get("machine") == args.machine
    ok = named and manifest["frame_count"] == len(frames) > 0 and not problems
    print("frames on disk match the manifest" if ok else "CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
