"""The CLI in-process: help on every command, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()

COMMANDS = [
    ["run"], ["reprocess"], ["status"], ["export"], ["process"], ["classify"], ["demo"],
    ["review"], ["backup"], ["eval", "extraction"], ["eval", "entities"], ["eval", "figures"],
    ["eval", "catalysts"], ["eval", "compare"], ["eval", "direction"], ["train", "direction"], ["train", "extraction"],
    ["train", "entities"],
    ["plot", "signal"], ["backtest"],
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


def test_classify_reads_a_file_and_writes_jsonl(tmp_path):
    sentences = tmp_path / "sentences.txt"
    sentences.write_text(
        "Spot bitcoin ETFs recorded outflows of $258 million as prices slid.\n\n"
        "The exchange reported record revenue and raised its outlook.\n", encoding="utf-8")
    result = runner.invoke(app, ["classify", str(sentences)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [row["direction"] for row in rows] == ["bearish", None, "bullish"]
    assert all(set(row) == {"text", "direction", "confidence"} for row in rows)
    assert all(0.33 < row["confidence"] <= 1 for row in rows if row["direction"])


def test_classify_gives_one_row_per_line_whatever_the_bytes(tmp_path):
    """Blank lines keep their row, a lone carriage return splits nothing, bytes that are not
    UTF-8 are replaced and counted; once, 5 lines gave 2 rows and bad bytes a traceback."""
    sentences = tmp_path / "mixed.txt"
    sentences.write_bytes(
        b"Spot bitcoin ETFs recorded outflows of $258 million.\n"
        b"\n"
        b"The exchange reported record revenue\rand raised its outlook.\r\n"
        b"Caf\xe9 chain \xff\xfe adopts bitcoin payments at 400 stores.\n"
        b"   \n")
    result = runner.invoke(app, ["classify", str(sentences)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5
    assert [row["direction"] is None for row in rows] == [False, True, False, False, True]
    assert "\r" in rows[2]["text"] and "\ufffd" in rows[3]["text"]
    assert "3 bytes were not UTF-8" in result.stderr
    binary = runner.invoke(app, ["classify"], input=b"\x00\x01\x02\xff\n")
    assert binary.exit_code == 0 and len(binary.stdout.splitlines()) == 1


def test_classify_with_an_unloadable_model_is_exit_2(tmp_path):
    result = runner.invoke(app, ["classify", "--model", str(tmp_path / "nothing-here")],
                           input="Bitcoin rose.\n")
    assert result.exit_code == 2
    assert result.output.count("cannot load direction model") == 1, result.output
    assert "nothing-here" in result.output and "Traceback" not in result.output


def test_eval_direction_scores_review_gold_and_passes_over_figure_lines(tmp_path):
    gold = tmp_path / "gold.jsonl"
    lines = [
        {"kind": "catalyst", "text": "Ether ETFs took in $120 million of inflows on Monday.",
         "direction": "bullish"},
        {"kind": "figure", "text": "$120 million", "metric": "etf_flow", "value": 1.2e8},
        {"kind": "catalyst", "text": "The exchange lost $40 million of user funds in a hack.",
         "direction": "bearish"},
    ]
    gold.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = runner.invoke(app, ["eval", "direction", "--data", str(gold), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sets"]["gold"]["examples"] == 2


def test_eval_and_train_refuse_missing_data_files(tmp_path):
    for command in (["eval", "direction", "--data"], ["train", "direction", "--extra"]):
        result = runner.invoke(app, [*command, str(tmp_path / "absent.jsonl")])
        assert result.exit_code == 2 and "no such file" in result.output, command


@pytest.mark.parametrize(
    ("option", "value"),
    [("--repeats", "articles=three"), ("--repeats", "nosuch=2"), ("--repeats", "articles"),
     ("--repeats", "articles=1.5"), ("--loss-weight", "twitter=heavy"),
     ("--loss-weight", "twitter=-1"), ("--loss-weight", "twitter=nan"),
     ("--loss-weight", "twitter=inf"), ("--loss-weight", "nosuch=2")],
)
def test_train_direction_refuses_a_bad_source_option(tmp_path, option, value):
    result = runner.invoke(app, ["train", "direction", "--output", str(tmp_path / "m"),
                                 option, value])
    assert result.exit_code == 2 and option in result.output, value
    assert not (tmp_path / "m").exists()


def test_eval_catalysts_scores_the_gold_articles_given(tmp_path):
    import shutil

    from pipeline.nlp import MODELS_DIR

    gold = MODELS_DIR / "data" / "gold"
    (tmp_path / "catalysts").mkdir()
    for name in ("fed_cpi.txt", "fed_cpi.json"):
        shutil.copy(gold / name, tmp_path / name)
    shutil.copy(gold / "catalysts" / "fed_cpi.json", tmp_path / "catalysts" / "fed_cpi.json")
    result = runner.invoke(app, ["eval", "catalysts", "--gold", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["articles"] == 1 and report["gold_catalysts"] == 8
    assert report["detection"]["tp"] + report["detection"]["fn"] == 8
    # One line per missed, extra or mislabelled sentence.
    assert len(report["errors"]) >= report["detection"]["fn"]
    assert all(error.startswith("fed_cpi: ") for error in report["errors"])
    missing = runner.invoke(app, ["eval", "catalysts", "--gold", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such directory" in missing.output
    no_model = runner.invoke(app, ["eval", "catalysts", "--gold", str(tmp_path),
                                   "--model", str(tmp_path / "no-model")])
    assert no_model.exit_code == 2 and no_model.output.count("cannot load direction model") == 1


def test_eval_catalysts_reads_pages_from_a_relative_gold_directory(tmp_path, monkeypatch):
    import shutil

    from pipeline.nlp import MODELS_DIR

    gold = MODELS_DIR / "data" / "gold_test"
    copy = tmp_path / "gold"
    (copy / "catalysts").mkdir(parents=True)
    (copy / "pages").mkdir()
    for name in ("etf_weekly.txt", "etf_weekly.json"):
        shutil.copy(gold / name, copy / name)
    shutil.copy(gold / "catalysts" / "etf_weekly.json", copy / "catalysts" / "etf_weekly.json")
    shutil.copy(gold / "pages" / "etf_weekly.html", copy / "pages" / "etf_weekly.html")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eval", "catalysts", "--gold", "gold", "--pages", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["articles"] == 1 and report["detection"]["tp"] > 0


def test_eval_entities_and_figures_read_a_directory_of_markup(tmp_path):
    """The training data's layout (markup only) is gold too: --gold scores it, FUND, tickers
    and the share of figures with no metric included."""
    (tmp_path / "one.md").write_text(
        "⟦Northgate Digital Holdings, Inc.|COMPANY|NGDH⟧ (⟦NASDAQ|EXCHANGE|⟧: "
        "⟦NGDH|COMPANY|NGDH⟧) said the ⟦Kestrel Bitcoin Strategy ETF|FUND|KBTS⟧ "
        "(⟦KBTS|FUND|KBTS⟧) drew ⟪$40 million|v=40000000;u=USD;m=etf_flow⟫ on Monday.\n",
        encoding="utf-8",
    )
    entities = runner.invoke(app, ["eval", "entities", "--gold", str(tmp_path), "--json"])
    assert entities.exit_code == 0, entities.output
    report = json.loads(entities.output)
    assert report["articles"] == 1 and "FUND" in report["per_label"]
    assert report["tickers_all"]["stated"] == 4  # every mention of NGDH and KBTS names
    figures = runner.invoke(app, ["eval", "figures", "--gold", str(tmp_path), "--json"])
    assert figures.exit_code == 0, figures.output
    assert 0.0 <= json.loads(figures.output)["other_share"] <= 1.0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.md").write_text("⟦x|NOPE|⟧\n", encoding="utf-8")
    refused = runner.invoke(app, ["eval", "entities", "--gold", str(bad)])
    assert refused.exit_code == 2 and "x.md" in refused.output
