"""Typed application state and its accessor."""

from __future__ import annotations

from aiohttp import web

from shop.registry.registry import Registry

REGISTRY = web.AppKey("registry", Registry)


def get_registry(request: web.Request) -> Registry:
    return request.app[REGISTRY]
