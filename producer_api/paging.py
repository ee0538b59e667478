"""The cursor of paged listings: a position in a sorted set, bounded so it always parses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Cursor = Annotated[str | None, Query(pattern=r"^\d{1,18}$", description="A page's next_cursor.")]
