"""How long to wait before a retry: exponential backoff with full jitter, or the server's
`Retry-After` when it gave one, capped either way."""

from __future__ import annotations

import random


def delay(attempt: int, retry_after: float | None, *, base: float, cap: float) -> float:
    """The wait before retry number `attempt` (0 for the first retry), in seconds."""
    if retry_after is not None:
        return min(retry_after, cap)
    return random.uniform(0, min(cap, base * (2**attempt)))
