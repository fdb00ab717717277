"""The CLI in-process: help on every command, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()

COMMANDS = [
    ["run"], ["reprocess"], ["status"], ["export"], ["process"], ["classify"], ["demo"],
    ["review"], ["backup"], ["eval", "extraction"], ["eval", "entities"], ["eval", "figures"],
    ["eval", "direction"], ["train", "direction"], ["plot", "signal"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_unknown_option_is_a_usage_error():
    result = runner.invoke(app, ["run", "--no-such-flag"])
    assert result.exit_code == 2


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: desk\n    url: ftp//broken\n", encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(config), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "feed #1 ('desk')" in result.output and "key 'url'" in result.output
    assert not (tmp_path / "x.db").exists()


def test_missing_database_is_exit_2(tmp_path):
    for command in (["status"], ["export", "catalysts"], ["reprocess"]):
        result = runner.invoke(app, [*command, "--db", str(tmp_path / "absent.db")])
        assert result.exit_code == 2, command
        assert "no such database" in result.output


def test_bad_date_is_exit_2(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(config), "--db", str(tmp_path / "x.db"),
                                 "--since", "last tuesday"])
    assert result.exit_code == 2 and "not an ISO 8601 date" in result.output


def test_locked_database_is_exit_3(tmp_path):
    from pipeline.lock import RunLock

    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    with RunLock(tmp_path / "x.db"):
        result = runner.invoke(app, ["run", "--config", str(config), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 3
    assert "another run is in progress" in result.output


def test_console_script_runs_as_a_process():
    completed = subprocess.run([sys.executable, "-m", "pipeline.cli", "--help"],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0 and "newsignal" in completed.stdout
