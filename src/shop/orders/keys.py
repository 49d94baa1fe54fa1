"""The orders app's typed keys and accessors: the order view's store and the topic reader."""

from __future__ import annotations

from aiohttp import web

from shop.store import OrderStore
from shop.topic_scan import TopicReader

STORE = web.AppKey("store", OrderStore)
TOPIC_READER = web.AppKey("topic_reader", TopicReader)


def get_store(app: web.Application) -> OrderStore:
    return app[STORE]


def get_topic_reader(app: web.Application) -> TopicReader:
    return app[TOPIC_READER]
