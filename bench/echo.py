"""A bare aiohttp JSON echo server: the ceiling the service is measured against.

Run the same way as the service (plain asyncio, no access log), so the ratio of the two compares
the service's own work and nothing else: ``python -m bench.echo --port N [--uvloop]``.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    """Answer 201 with the JSON body of the request, as create-order answers 201."""
    return web.json_response(await request.json(), status=201)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/create-order", echo)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (reference only)")
    args = parser.parse_args()
    loop_factory = None
    if args.uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(args.host, args.port))


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    main()
