"""A GPU host at full load: ``worker --all-gpus`` (one process per card) through a queue of
emotion clips, with one card and with every card, and one card's worker killed mid-run.

Real processes: a private redis-server, the API and ``avatar-render worker --renderer
liveportrait --all-gpus`` with synthetic weights. Once every card's worker has warmed up
(each answers on its ``/metrics`` port, ``RENDER_WORKER_METRICS_PORT`` + its index), the
pinning is checked: ``nvidia-smi`` must show exactly one worker process on each card, and
each card's metrics must report CUDA memory in use. Then ``--clips`` clips are queued at
once and timed as ``benchmarks.gpu_node`` times them. ``--compare`` first runs the same
with the first card alone, so the table shows the scaling. ``--kill-after N`` adds a run
of its own (a kill and a restart are no throughput figure) that SIGKILLs the last card's
worker (its process tree) once N clips are done: its clip must be taken over, every clip
must end with exactly one manifest, and the fleet must start the card's worker again.

    python -m benchmarks.gpu_fleet --compare --kill-after 16      # a two-GPU host
    python -m benchmarks.gpu_fleet --clips 16 --kill-after 4       # one GPU: the same paths
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.gpu_node import NodeRun, clip_arguments, liveportrait_stack, run_clips
from render_cli.local_redis import free_port
from render_cli.processes import wait_until
from render_core.jobs import JobStore
from render_core.schema import JobStatus
from tests.stack import Stack

WORKER_NAME = "gpu"


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux ``/proc``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    tree = [pid]
    for child in children(pid):
        tree += process_tree(child)
    return tree


def _nvidia_smi(*query: str) -> list[str]:
    """The rows ``nvidia-smi`` answers a CSV query with."""
    answer = subprocess.run(
        ["nvidia-smi", *query, "--format=csv,noheader"], capture_output=True, text=True, check=True
    )
    return answer.stdout.splitlines()


def card_processes() -> dict[int, list[int]]:
    """The compute processes on each card (index → pids), as ``nvidia-smi`` lists them."""
    index_of = {
        uuid.strip(): int(index)
        for index, uuid in (row.split(",") for row in _nvidia_smi("--query-gpu=index,uuid"))
    }
    cards: dict[int, list[int]] = {index: [] for index in index_of.values()}
    for row in _nvidia_smi("--query-compute-apps=pid,gpu_uuid"):
        pid, uuid = (value.strip() for value in row.split(","))
        cards[index_of[uuid]].append(int(pid))
    return cards


def metric(url: str, name: str) -> float | None:
    """One unlabelled sample of a worker's ``/metrics``; None when it does not answer."""
    try:
        text = httpx.get(url, timeout=2.0).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


@dataclass
class Fleet:
    """The fleet parent's process and the metrics address of each card's worker."""

    stack: Stack
    cards: int
    metrics_port: int

    def metrics_url(self, card: int) -> str:
        return f"http://127.0.0.1:{self.metrics_port + card}/metrics"

    def card_ready(self, card: int) -> bool:
        return metric(self.metrics_url(card), "avatar_render_worker_model_load_seconds") is not None

    @property
    def parent(self) -> int:
        return self.stack.workers[-1].pid

    def pinning(self) -> list[str]:
        """A line per card: the fleet's processes ``nvidia-smi`` sees on it and the CUDA
        memory its worker reports; raises unless each card has exactly one, in use."""
        ours = set(process_tree(self.parent))
        lines = []
        for card, pids in sorted(card_processes().items()):
            mine = [pid for pid in pids if pid in ours]
            allocated = metric(
                self.metrics_url(card), "avatar_render_worker_gpu_memory_allocated_bytes"
            )
            lines.append(f"| {card} | {mine} | {(allocated or 0) / 2**20:.0f} MiB |")
            if card < self.cards and (len(mine) != 1 or not allocated):
                raise RuntimeError(f"card {card}: worker processes {mine}, allocated {allocated}")
        return lines

    def kill_card(self, card: int) -> list[int]:
        """SIGKILL the worker of ``card`` (the fleet's child whose processes use the card)
        and everything below it; the pids killed."""
        on_card = set(card_processes().get(card, []))
        for child in children(self.parent):
            tree = process_tree(child)
            if on_card & set(tree):
                for pid in tree:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                return tree
        raise RuntimeError(f"no worker process of the fleet found on card {card}")


def start_fleet(stack: Stack, cards: str | None, args: argparse.Namespace) -> None:
    flags = ["--all-gpus", "--concurrency", str(args.concurrency)]
    stack.start_worker(WORKER_NAME, *flags, *(["--gpus", cards] if cards else []))
    stack.start_api()


def killer(fleet: Fleet, after: int, done: threading.Event, report: list[str]) -> None:
    """Once ``after`` clips have succeeded, kill the last card's worker."""
    jobs = JobStore.from_settings(fleet.stack.settings)
    while not done.is_set():
        if jobs.index.count(JobStatus.succeeded) > after:  # the warm-up clip counts too
            killed = fleet.kill_card(fleet.cards - 1)
            report.append(f"killed card {fleet.cards - 1}'s worker: pids {killed}")
            return
        time.sleep(0.1)


def run_fleet(cards: str | None, count: int, args: argparse.Namespace) -> tuple[NodeRun, str]:
    """One fleet on ``cards`` (None: every card) through the clips; its run and a report."""
    with contextlib.ExitStack() as resources:
        root = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="gpu-fleet-")))
        metrics_port = free_port()
        stack = liveportrait_stack(
            resources,
            root,
            args.weights,
            args,
            device="cuda:0",
            worker_metrics_port=str(metrics_port),
            worker_metrics_host="127.0.0.1",
        )
        start_fleet(stack, cards, args)
        fleet = Fleet(stack, count, metrics_port)
        wait_until(lambda: all(map(fleet.card_ready, range(count))), 900, "every card warm")
        report = ["| card | worker pids on it | CUDA memory allocated |", "| ---: | --- | ---: |"]
        report += fleet.pinning()
        done, killed = threading.Event(), list[str]()
        if args.kill_after:
            thread = threading.Thread(target=killer, args=(fleet, args.kill_after, done, killed))
            thread.start()
        try:
            run = run_clips(stack, args)
        finally:
            done.set()
        report += ["", *killed]
        if args.kill_after:
            report.append(_takeover_report(stack, fleet))
    return run, "\n".join(report)


def _takeover_report(stack: Stack, fleet: Fleet) -> str:
    """After a kill: every clip has one manifest, and the killed card is served again."""
    jobs = [path.parents[1].name for path in stack.storage_dir.rglob("manifest.json")]
    twice = sorted({job for job in jobs if jobs.count(job) > 1})
    if twice:
        raise RuntimeError(f"clips with more than one manifest: {twice}")
    card = fleet.cards - 1
    wait_until(lambda: fleet.card_ready(card), 900, f"card {card}'s worker started again")
    return (
        f"after the kill: {len(jobs)} clips with one manifest each (the warm-up's included); "
        f"the fleet started card {card}'s worker again and it warmed up"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", help="cards to use, e.g. 0,1 (default: every card)")
    parser.add_argument("--compare", action="store_true", help="first the first card alone")
    parser.add_argument("--kill-after", type=int, default=0, help="kill a worker after N clips")
    clip_arguments(parser)
    args = parser.parse_args()

    from workers.gpu_fleet import count_gpus, fleet_devices
    from workers.renderers.liveportrait.synthetic_weights import weights_or_synthetic

    cards = fleet_devices(args.gpus, count_gpus())
    if not cards:
        raise SystemExit("no GPU: nvidia-smi lists none")
    runs = [(cards[:1], 0)] if args.compare else []
    runs.append((cards, 0))
    if args.kill_after:
        runs.append((cards, args.kill_after))
    rows = []
    with weights_or_synthetic(args.weights) as weights:
        args.weights = weights
        for chosen, kill_after in runs:
            args.kill_after = kill_after
            run, report = run_fleet(",".join(chosen), len(chosen), args)
            killed = f", one killed after {kill_after} clips" if kill_after else ""
            print(f"## {len(chosen)} card(s): {', '.join(chosen)}{killed}\n\n{report}\n")
            rows.append((f"{len(chosen)}{killed}", run))
    print(f"{args.clips} clips of {args.frames} frames at {args.size} px, PNG frames and an mp4\n")
    print("| cards | clips/s | frames/s | GPU busy (mean of cards) | CPU cores busy | scaling |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base = rows[0][1].frames / rows[0][1].wall_s
    for label, run in rows:
        fps = run.frames / run.wall_s
        gpu = "n/a" if run.gpu_busy is None else f"{run.gpu_busy:.0%}"
        print(
            f"| {label} | {run.clips / run.wall_s:.2f} | {fps:.1f} | {gpu} | "
            f"{run.cpu_cores_busy:.1f} of {os.cpu_count()} | {fps / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
