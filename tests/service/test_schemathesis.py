"""Property-based: schemathesis generates a few hundred requests per port from its
/openapi.json and checks every answer against the document: no 5xx, and no status, content type,
body or header the document does not describe."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from shop.main import RunningService
from tests.processes import finished
from tests.service.helpers import create
from tests.waiting import unique

ST = Path(sys.executable).parent / "st"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
# Per operation and phase: about 600 requests on the cart (its stateful phase follows creates
# with updates) and 300 on the orders port, each run under 15 s on two cores.
MAX_EXAMPLES = 40
# A run that generated fewer did not test the port (an operation filtered out, say).
MIN_REQUESTS = 250
SEED = 20251126
RUN_TIMEOUT_S = 120
# How often a bound parameter is drawn from its values instead of generated.
DRAWN = 0.3


def config(bindings: dict[str, tuple[str, list[str]]]) -> str:
    """A schemathesis.toml that draws each bound parameter, now and then, from its values: values
    no generator would guess (the orders and topic of the service under test), so generated
    requests reach the answers only they get."""
    lines = []
    for name, values in bindings.values():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for parameter, (name, _) in bindings.items():
        lines.append(f'"{parameter}" = {{ dictionary = "{name}", probability = {DRAWN} }}')
    return "\n".join(lines) + "\n"


async def schemathesis(url: str, workdir: Path, config_toml: str) -> tuple[int, str]:
    """Run ``st run`` on the document at ``url``; its exit code and output."""
    config_file = workdir / "schemathesis.toml"
    config_file.write_text(config_toml)
    process = await asyncio.create_subprocess_exec(
        str(ST),
        f"--config-file={config_file}",
        "run",
        url,
        f"--checks={','.join(CHECKS)}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--generation-database=none",
        "--request-timeout=20",
        "--no-color",
        "--output-truncate=false",
        # Its own files stay out of the working tree.
        cwd=workdir,
        # The service is local: no proxy of the environment in between.
        env={**os.environ, "NO_PROXY": "*"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await finished(process, RUN_TIMEOUT_S, f"schemathesis on {url}")
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.timeout(RUN_TIMEOUT_S + 30)
@pytest.mark.parametrize("port", ["cart", "orders"])
async def test_generated_requests_get_only_documented_answers(
    service: RunningService, http: aiohttp.ClientSession, tmp_path: Path, port: str
) -> None:
    """Schemathesis's generated requests on the port get no 5xx and only answers its document
    describes (status, content type, body schema, headers)."""
    orders = [(await create(http, service.cart_url, unique("ORDER")))["orderId"] for _ in range(3)]
    if port == "cart":
        base = service.cart_url
        bindings = {"body.orderId": ("orders", orders)}
    else:
        base = service.orders_url
        topics = sorted(service.settings.scannable_topics)
        bindings = {"query.orderId": ("orders", orders), "query.topic": ("topics", topics)}
    code, output = await schemathesis(f"{base}/openapi.json", tmp_path, config(bindings))
    assert code == 0, output
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None, output
    assert int(generated.group(1)) >= MIN_REQUESTS, output
