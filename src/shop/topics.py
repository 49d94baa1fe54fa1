"""What the service asks of its topics: created when missing, with the policy each one needs.

Every event is the whole order after it, keyed by orderId, and the view is rebuilt from the topic
at each start: the latest event of each order is all the view needs, and it must never be deleted.
Compaction keeps exactly that (the broker default, deletion after 7 days, would lose every order
older than a week at the next restart). Dead letters wait for a person: nothing deletes them
(``retention.ms=-1``), whatever the broker's default retention.
"""

from __future__ import annotations

import logging

from shop.kafka import KafkaAdmin
from shop.settings import Settings

log = logging.getLogger(__name__)

ORDER_TOPIC_CONFIGS = {"cleanup.policy": "compact"}
DEAD_LETTER_TOPIC_CONFIGS = {"retention.ms": "-1"}


async def ensure_topics(admin: KafkaAdmin, settings: Settings) -> None:
    """Create the order topic and the dead-letter topic unless they exist; existing ones are used
    as they are, with a warning when the order topic would delete orders the view needs."""
    await admin.ensure_topic(
        settings.topic,
        settings.topic_partitions,
        settings.topic_replication_factor,
        ORDER_TOPIC_CONFIGS,
    )
    await _warn_if_events_expire(admin, settings.topic)
    await admin.ensure_topic(
        settings.dead_letters, 1, settings.topic_replication_factor, DEAD_LETTER_TOPIC_CONFIGS
    )


async def _warn_if_events_expire(admin: KafkaAdmin, topic: str) -> None:
    configs = await admin.topic_configs(topic)
    policy = configs.get("cleanup.policy", "")
    if "compact" not in policy and configs.get("retention.ms", "-1") != "-1":
        log.warning(
            "topic %s deletes events after retention.ms=%s (cleanup.policy=%s): orders older than "
            "that vanish from the view at the next restart; set cleanup.policy=compact",
            topic,
            configs["retention.ms"],
            policy or "delete",
        )
