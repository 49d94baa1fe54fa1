"""The ``shop`` console script's commands and usage errors (no broker needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shop.cli import main


def _exit_status(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert isinstance(exited.value.code, int)
    return exited.value.code


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """``shop --help`` names run, events and dead-letters."""
    assert _exit_status(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: shop ")
    for command in ("run", "events", "dead-letters"):
        assert f"    {command}" in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        ([], "required: COMMAND"),
        (["events", "--last", "0"], "at least 1"),
        (["events", "--last", "3", "--from-beginning"], "not allowed with"),
        (["events", "--format", "xml"], "invalid choice: 'xml'"),
        (["dead-letters", "replay"], "give an offset with replay"),
        (["dead-letters", "list", "3"], "give an offset with replay"),
    ],
)
def test_a_usage_error_is_exit_2_with_the_usage(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad command or flag: exit 2, the usage and what was wrong on stderr."""
    assert _exit_status(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: shop")
    assert said in err


def test_run_passes_every_flag_to_the_service(capsys: pytest.CaptureFixture[str]) -> None:
    """``shop run`` is ``python -m shop``: its flags, its help, its one-line settings errors."""
    assert _exit_status(["run", "--help"]) == 0
    assert "--kafka-bootstrap-servers" in capsys.readouterr().out
    assert main(["run", "--cart-port", "eighty"]) == 2
    assert capsys.readouterr().err == "shop: --cart-port must be a whole number, not 'eighty'\n"


def test_a_bad_setting_in_the_environment_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tools read SHOP_* as the service does: a bad value is one line naming it, exit 2."""
    monkeypatch.setenv("SHOP_REQUEST_TIMEOUT_S", "soon")
    assert main(["events"]) == 2
    assert capsys.readouterr().err == (
        "shop: SHOP_REQUEST_TIMEOUT_S must be a number of seconds, not 'soon'\n"
    )


def test_the_console_script_is_installed() -> None:
    """``pip install -e .`` puts ``shop`` beside the interpreter, and it runs."""
    script = Path(sys.executable).with_name("shop")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "dead-letters" in done.stdout
