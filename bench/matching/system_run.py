"""What one matching system returns from one timed run."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass
class SystemRun:
    """``pairs`` holds the links the system commits to (``left_id``, ``right_id``; a group match
    contributes one row per member pair). ``candidates`` is the number of pairs it scored or
    filtered after blocking, or None when it cannot tell without extra work inside the timed
    region. ``stages`` are wall seconds per stage. ``review`` counts links it proposes for review
    instead of committing them (not in ``pairs``). ``nearest_pairs`` are the nearest candidates a
    system names for records it left unmatched; with ``pairs`` and ``review_pairs`` they give a lower
    bound of its blocking recall when it cannot list its candidates."""

    pairs: pl.DataFrame
    candidates: int | None
    stages: dict[str, float] = field(default_factory=dict)
    review_pairs: pl.DataFrame | None = None
    nearest_pairs: pl.DataFrame | None = None
    details: dict[str, object] = field(default_factory=dict)
