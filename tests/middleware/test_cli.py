"""middleware.cli: ``proabono-bridge check`` and the behaviour every subcommand shares."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import __version__
from bridge.errors import BillingUnavailable
from middleware import cli
from middleware.cli import main

SITE_KEY = "site-key-never-printed-0123456789"
EXAMPLE = Path(__file__).parents[2] / "examples" / "bridge.toml"
ENV_VARS = (
    "BRIDGE_CONFIG",
    "BRIDGE_SECRET_KEY",
    "PROABONO_AGENT_KEY",
    "PROABONO_API_KEY",
    "PROABONO_WEBHOOK_SECRET",
)

BROKEN = """
[billing]
url = "ftp://billing.example.com"
timout = "5s"

[site]
mount = "/"

[adapter]
kind = "flask-login"

[cache]
ttl = "1h"
stale_ttl = "5m"

[[rule]]
path = "/premium/**"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads the real environment: keep the developer's own settings out."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_broken_config_prints_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BROKEN)

    code = main(["check", "--config", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(f"7 configuration problems in {path}:")
    lines = err.splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == [
        "billing.timout",
        "billing.url",
        "site.mount",
        "site.secret_key",
        "adapter.kind",
        "cache.stale_ttl",
        "rule[0].feature",
    ]
    assert all("  → fix: " in line for line in lines)
    assert "did you mean 'timeout'?" in err
    assert "BRIDGE_SECRET_KEY" in err


def test_valid_config_prints_ok_and_a_summary_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_SECRET_KEY", SITE_KEY)
    monkeypatch.setenv("PROABONO_API_KEY", "api-key-never-printed")
    path = write(
        tmp_path,
        '[billing]\nurl = "https://api-42.proabono.com"\nagent_key = "agent-key-never-printed"\n'
        '[[rule]]\npath = "/premium/**"\nfeature = "premium-articles"\n',
    )

    code = main(["check", "--config", str(path)])

    out, err = capsys.readouterr()
    assert code == 0
    assert err == ""
    assert out.splitlines()[0] == f"OK: {path}"
    assert "agent_key: set (from file)" in out
    assert "api_key: set (from PROABONO_API_KEY)" in out
    assert "secret_key: set (from BRIDGE_SECRET_KEY)" in out
    assert "rule[0] /premium/** → premium-articles" in out
    for secret in (SITE_KEY, "api-key-never-printed", "agent-key-never-printed"):
        assert secret not in out


def test_missing_file_exits_2_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.toml"

    code = main(["check", "--config", str(missing)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{missing}: config file not found" in err
    assert "→ fix:" in err
    assert "--config FILE" in err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--config", "{path}", "check"], id="global-option"),
        pytest.param(["check", "--config", "{path}"], id="subcommand-option"),
        pytest.param(["check"], id="from-BRIDGE_CONFIG"),
    ],
)
def test_config_is_found_wherever_it_is_given(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    path = write(tmp_path, f'[site]\nsecret_key = "{SITE_KEY}"\nmount = "/found"\n')
    monkeypatch.setenv("BRIDGE_CONFIG", str(path))
    monkeypatch.chdir(tmp_path.parent)

    code = main([arg.format(path=path) for arg in argv])

    out = capsys.readouterr().out
    assert code == 0
    assert f"OK: {path}" in out
    assert "mount /found" in out


def test_default_file_is_bridge_toml_in_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, f'[site]\nsecret_key = "{SITE_KEY}"\n')
    monkeypatch.chdir(tmp_path)

    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("OK: bridge.toml\n")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"proabono-bridge {__version__}"


def test_no_subcommand_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: proabono-bridge" in err
    assert "check" in err


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chek"]) == 2
    assert "invalid choice: 'chek'" in capsys.readouterr().err


def test_a_bridge_error_is_one_line_on_stderr_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(path: object) -> None:
        raise BillingUnavailable("connection refused", method="GET", path="/v1/Usages")

    monkeypatch.setattr(cli, "load_config", unavailable)

    code = main(["check"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err == "proabono-bridge: GET /v1/Usages: connection refused\n"


def test_installed_console_script_checks_the_example() -> None:
    script = Path(sys.executable).parent / "proabono-bridge"
    if not script.exists():
        pytest.fail(f"console script missing at {script}: run `make install`")
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["BRIDGE_SECRET_KEY"] = SITE_KEY

    result = subprocess.run(
        [str(script), "check", "--config", str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {EXAMPLE}")
    assert SITE_KEY not in result.stdout
