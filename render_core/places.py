"""Places in the global job sequence: the scores of a job's index and fair-queue entries.

A job's place orders it among all jobs (pages are newest first) and among its tenant's
(first in, first out). New jobs take their places inside the creation script, in the same
atomic step as their writes, so a tenant's jobs are stored in the order of their places
without a round trip to reserve them first. The writes are built before the script runs,
so they carry *pending* places, which the script replaces by the places it took.
"""

from __future__ import annotations

from render_core.records import PREFIX

SEQUENCE_KEY = f"{PREFIX}:seq"
# A pending place is this mark and the job's offset in its creation: no key, record or
# event argument starts with a NUL byte.
PENDING_MARK = "\0place:"

# A score as the writes carry it: a place taken already, or a pending one.
Place = float | str


def pending(offset: int) -> str:
    """The place of a creation's ``offset``-th job, filled in by the creation script."""
    return f"{PENDING_MARK}{offset}"
