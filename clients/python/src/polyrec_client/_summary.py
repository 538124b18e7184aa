"""What `behaviors.send_all` answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SendSummary:
    """Totals of a `send_all`: events stored now, events the server had stored before (their
    `event_id` seen), and the events refused, each `{"event", "code", "message"}`."""

    accepted: int = 0
    duplicates: int = 0
    batches: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
