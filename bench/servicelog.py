"""The rebuild as the service logs it: from the view being assigned its partitions to the view
being caught up. Exact to the millisecond, unlike the difference of two start-ups, but tied to
the wording of log lines: when they are not found it is None.

The start is the view's "is assigned partitions …; replaying them" line, logged once it has
checked what the group committed and just before it seeks to the beginning. (aiokafka's own
"Setting newly assigned partitions" line, which this read before, is not logged at INFO since
the client libraries' routine lines moved to DEBUG.)
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$")
_ASSIGNED = "the order view is assigned partitions"
_CAUGHT_UP = "order view caught up with"


def rebuild_seconds(log_path: Path) -> float | None:
    """Seconds from the assignment before the first catch-up to that catch-up."""
    assigned: datetime.datetime | None = None
    for line in log_path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        message = match.group(2)
        if _ASSIGNED in message:
            assigned = moment
        elif _CAUGHT_UP in message and assigned is not None:
            return (moment - assigned).total_seconds()
    return None
