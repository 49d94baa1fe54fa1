"""The rebuild as the service logs it: from the consumer group handing the view its partitions
to the view being caught up. Exact to the millisecond, unlike the difference of two start-ups,
but tied to the wording of log lines: when they are not found it is None.

The start is aiokafka's "Setting newly assigned partitions" line: the view's own "rebuilding from
the beginning" line comes after its seek and end-offset requests, while its consumer loop may
already be applying events, so it can come after most of the rebuild. It is the fallback when
aiokafka's line is missing.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$")
_ASSIGNED = "Setting newly assigned partitions"
_REBUILDING = "rebuilding from the beginning"
_CAUGHT_UP = "order view caught up with"


def rebuild_seconds(log_path: Path) -> float | None:
    """Seconds from the assignment before the first catch-up to that catch-up."""
    assigned: datetime.datetime | None = None
    rebuilding: datetime.datetime | None = None
    for line in log_path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        message = match.group(2)
        if _ASSIGNED in message:
            assigned, rebuilding = moment, None
        elif _REBUILDING in message:
            rebuilding = moment
        elif _CAUGHT_UP in message:
            started = assigned or rebuilding
            if started is not None:
                return (moment - started).total_seconds()
    return None
