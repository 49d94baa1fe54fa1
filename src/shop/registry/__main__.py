"""``python -m shop.registry``: the embedded Schema Registry on its own."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from shop.registry.app import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shop.registry",
        description="A small Confluent-compatible Schema Registry storing its state in Kafka.",
    )
    parser.add_argument("--bootstrap-servers", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on")
    parser.add_argument("--topic", default="_schemas", help="the topic that stores schemas")
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=10.0,
        help="seconds a Kafka write or start-up read may take",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(args.bootstrap_servers, args.topic, args.request_timeout)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
