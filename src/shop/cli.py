"""``shop``: the service, and the tools a person uses to look at it.

    shop run [flags]            the service, as ``python -m shop [flags]``
    shop events [options]       the order topic's events, decoded, one line each
    shop dead-letters list      the records the order view refused
    shop dead-letters replay N  put dead letter N back on the order topic

The tools find the broker, registry and topic as the service does (SHOP_* variables), or, with
none set, the embedded stack ``make run`` starts; flags override both.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from shop import main as service
from shop import settings as settings_module
from shop.embedded import LOOPBACK
from shop.errors import ShopError
from shop.event_tail import DEFAULT_LAST, HEADER, EventTail, Query, Source, json_line, text_line
from shop.order import OrderId
from shop.orders import replay
from shop.settings import Settings, SettingsError

PROG = "shop"


def _connection_flags(*, registry: bool) -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="Kafka (default SHOP_KAFKA_BOOTSTRAP_SERVERS, else the embedded broker's port)",
    )
    if registry:
        flags.add_argument(
            "--schema-registry-url",
            metavar="URL",
            help="Schema Registry (default SHOP_SCHEMA_REGISTRY_URL, else the embedded one's port)",
        )
    flags.add_argument("--topic", help="the order topic (default SHOP_TOPIC, else order-events)")
    flags.add_argument(
        "--verbose", action="store_true", help="also print the Kafka client's warnings"
    )
    return flags


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="The shop service, and the tools a person uses to look at it."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run", help="the service (every flag of python -m shop: shop run --help)", add_help=False
    )
    events = commands.add_parser(
        "events",
        parents=[_connection_flags(registry=True)],
        help="the order topic's events, decoded",
        description="Print the order topic's events decoded, one line each: partition, offset, "
        "key, version, event type, status, total, time. A record that is not an order event is "
        "shown as such, with the reason.",
    )
    events.add_argument(
        "--order", metavar="ORDER_ID", help="only this order's events (all of them)"
    )
    events.add_argument("--follow", action="store_true", help="then print new events until Ctrl-C")
    start = events.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="every event on the topic")
    start.add_argument(
        "--last",
        type=_positive,
        metavar="N",
        help=f"the last N events (default {DEFAULT_LAST}; with --order, all of them)",
    )
    events.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="aligned columns (default), or one JSON object per line",
    )
    letters = commands.add_parser(
        "dead-letters",
        parents=[_connection_flags(registry=False)],
        help="list the records the order view refused, or replay one",
        description="list: offset, time, key, source and reason of each dead letter. replay N: "
        "put dead letter N back on the topic it came from, where the view reads it again.",
    )
    letters.add_argument(
        "--dead-letter-topic", help="default SHOP_DEAD_LETTER_TOPIC, else <topic>.dlq"
    )
    letters.add_argument("action", choices=["list", "replay"])
    letters.add_argument("offset", nargs="?", type=int, help="replay: the dead letter's offset")
    letters.set_defaults(usage_error=letters.error)
    return parser


def _positive(raw: str) -> int:
    value = int(raw) if raw.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {raw!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """The ``shop`` console script; its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        # Every flag goes to the service untouched (argparse would take those it knows).
        return service.run(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "dead-letters" and (args.action == "replay") != (args.offset is not None):
        args.usage_error("give an offset with replay, and only with replay")
    try:
        settings = settings_module.load([])
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    # The Kafka client logs every failed connection; our own one line says what failed.
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    if args.topic:
        settings = dataclasses.replace(settings, topic=args.topic)
    if args.command == "events":
        return _run_tool(_events(_source(args, settings), _query(args), args.format))
    return _run_tool(_dead_letters(args, settings))


def _run_tool(tool: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(tool)
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how a person stops following
    except ShopError as exc:
        print(f"{PROG}: {exc.message}", file=sys.stderr)
    except replay.NotReplayable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
    except BrokenPipeError:
        # A reader such as `head` left: nothing more to say, and nothing to flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 1


def _source(args: argparse.Namespace, settings: Settings) -> Source:
    return Source(
        bootstrap_servers=_bootstrap(args, settings),
        registry_url=(
            args.schema_registry_url
            or settings.schema_registry_url
            or f"http://{LOOPBACK}:{settings.embedded_registry_port}"
        ).rstrip("/"),
        topic=settings.topic,
        timeout_s=settings.request_timeout_s,
    )


def _bootstrap(args: argparse.Namespace, settings: Settings) -> str:
    return str(
        args.bootstrap_servers
        or settings.kafka_bootstrap_servers
        or f"{LOOPBACK}:{settings.embedded_kafka_port}"
    )


def _query(args: argparse.Namespace) -> Query:
    order_id = None if args.order is None else OrderId(args.order)
    if args.from_beginning:
        last = None
    elif args.last is not None:
        last = args.last
    else:
        last = None if order_id is not None else DEFAULT_LAST
    return Query(order_id=order_id, last=last, follow=args.follow)


async def _events(source: Source, query: Query, form: str) -> int:
    line = json_line if form == "json" else text_line
    async with EventTail.opened(source, query) as tail:
        existing = await tail.existing()
        if form == "text" and (existing or query.follow):
            print(HEADER)
        for seen in existing:
            print(line(seen))
        sys.stdout.flush()
        if not existing:
            print(
                f"{PROG}: {_nothing(source, query, tail.partitions)}", file=sys.stderr, flush=True
            )
        if query.follow:
            async for seen in tail.following():
                print(line(seen), flush=True)
    return 1 if not existing and query.order_id is not None else 0


def _nothing(source: Source, query: Query, partitions: list[int]) -> str:
    if query.order_id is None:
        found = f"{source.topic} holds no records"
    else:
        found = f"no events of order {query.order_id} on {source.topic} (partition {partitions[0]})"
    return found + ("; waiting for one" if query.follow else "")


async def _dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = _bootstrap(args, settings)
    topic = args.dead_letter_topic or settings.dead_letters
    timeout_s = settings.request_timeout_s
    if args.action == "replay":
        where = await replay.replay(bootstrap, topic, args.offset, timeout_s)
        print(f"replayed dead letter {args.offset} to {where}")
        return 0
    letters = await replay.dead_letters(bootstrap, topic, timeout_s)
    for letter in letters:
        print(replay.describe(letter))
    if not letters:
        print(f"{PROG}: {topic} holds no dead letters", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
