"""/docs in a real browser: headless Chromium (Debian's ``chromium``) renders every operation of
the port's document, with every host but the service's unresolvable, so nothing comes from the
internet."""

from __future__ import annotations

import asyncio
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shop.cart.openapi import DOCUMENT as CART_DOCUMENT
from shop.main import RunningService
from shop.orders.openapi import DOCUMENT as ORDERS_DOCUMENT
from tests.processes import finished

CHROMIUM_TIMEOUT_S = 60
INSTALL = "apt-get install -y chromium"


def chromium() -> str:
    """The browser; a skip that says how to get it, or a failure when CI=true (CI must run it)."""
    found = shutil.which("chromium") or shutil.which("/usr/bin/chromium")
    if found is not None:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and chromium is not installed; install Debian's package: {INSTALL}")
    pytest.skip(f"renders /docs in headless Chromium, which is not installed ({INSTALL})")


async def rendered_dom(url: str, profile: Path) -> str:
    """The DOM of ``url`` after Chromium ran its scripts for up to 10 s of virtual time."""
    process = await asyncio.create_subprocess_exec(
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # Every host but the service's fails to resolve: a page that needed a CDN would render
        # nothing.
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {urlsplit(url).hostname}",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await finished(process, CHROMIUM_TIMEOUT_S, f"chromium rendering {url}")
    assert process.returncode == 0, output.decode(errors="replace")[-2000:]
    return output.decode()


class _Operations(HTMLParser):
    """What Swagger UI rendered: each operation's block id and summary path, and any errors."""

    def __init__(self) -> None:
        super().__init__()
        self.block_ids: set[str] = set()
        self.paths: set[str] = set()
        self.errors = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if "opblock" in classes and found.get("id"):
            self.block_ids.add(found["id"] or "")
        if "opblock-summary-path" in classes and found.get("data-path"):
            self.paths.add(found["data-path"] or "")
        if "errors-wrapper" in classes:
            self.errors = True


@pytest.mark.parametrize("port", ["cart", "orders"])
async def test_docs_page_shows_every_operation_in_chromium(
    service: RunningService, tmp_path: Path, port: str
) -> None:
    """Chromium renders /docs with each operation of the port's document (its path, under its
    tag and operationId) and no error panel."""
    base, document = (
        (service.cart_url, CART_DOCUMENT)
        if port == "cart"
        else (service.orders_url, ORDERS_DOCUMENT)
    )
    dom = await rendered_dom(f"{base}/docs", tmp_path / "profile")
    shown = _Operations()
    shown.feed(dom)
    assert shown.paths == set(document["paths"]), dom[-3000:]
    expected = {
        f"operations-{operation['tags'][0]}-{operation['operationId']}"
        for path_item in document["paths"].values()
        for operation in path_item.values()
    }
    assert shown.block_ids == expected
    assert not shown.errors, dom[-3000:]
    assert document["info"]["title"] in dom
