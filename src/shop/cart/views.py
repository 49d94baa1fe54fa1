"""Cart handlers: parse, ask the writer, answer."""

from __future__ import annotations

from aiohttp import web

from shop.cart import requests
from shop.cart.keys import get_writer
from shop.render import json_response, order_json
from shop.routing import ROUTER, Api


async def create_order(request: web.Request) -> web.Response:
    command = await requests.create_order(request)
    if (owners := await request.app[ROUTER].route(request, command.order_id, Api.CART)) is not None:
        return owners
    order = await get_writer(request.app).create(command.order_id, command.items_count)
    return json_response(
        {"message": "Order created and published successfully.", "order": order_json(order)},
        status=201,
    )


async def update_order(request: web.Request) -> web.Response:
    command = await requests.update_order(request)
    if (owners := await request.app[ROUTER].route(request, command.order_id, Api.CART)) is not None:
        return owners
    order = await get_writer(request.app).update(command.order_id, command.status)
    return json_response(
        {"message": "Order updated and published successfully.", "order": order_json(order)}
    )
