"""The cart app's typed keys and accessors: the cart holds the order writer and nothing else."""

from __future__ import annotations

from aiohttp import web

from shop.cart.writer import OrderWriter

WRITER = web.AppKey("writer", OrderWriter)


def get_writer(app: web.Application) -> OrderWriter:
    return app[WRITER]
