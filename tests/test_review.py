"""The review app in-process: list and filters, highlights, escaping, CSRF, judgements, export."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup
from builders import (
    BTC_TEXT,
    ETH_TEXT,
    HEADED_TITLE,
    HOSTILE_TEXT,
    HOSTILE_TITLE,
    MODEL,
    build_headed_db,
)
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records import ArticleFilter
from pipeline.review import ReviewSetupError, create_app, export_corrections, serve
from pipeline.review.forms import snapshot
from pipeline.review.highlight import Highlight, paragraph_spans, render_text
from pipeline.store import Store
from pipeline.store import review_queries


@pytest.fixture()
def client(review_db):
    path, _ = review_db
    with TestClient(create_app(path, reviewer="ana"), base_url="http://127.0.0.1") as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    return BeautifulSoup(html, "html.parser").find("meta", attrs={"name": "csrf-token"})["content"]


def model_rows(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("articles", "entities", "figures", "catalysts", "conflicts")
        }


def corrections(path: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM corrections ORDER BY id").fetchall()
    finally:
        db.close()


def tag_id(path: Path, kind: str, article_id: int, text: str) -> int:
    table, column = {"catalyst": ("catalysts", "sentence"), "figure": ("figures", "text"),
                     "entity": ("entities", "text")}[kind]
    with sqlite3.connect(path) as db:
        return db.execute(
            f"SELECT id FROM {table} WHERE article_id = ? AND {column} LIKE ?",
            (article_id, text + "%"),
        ).fetchone()[0]


def listed_ids(client: TestClient, query: str = "") -> list[int]:
    response = client.get("/articles" + query)
    assert response.status_code == 200, response.text
    soup = BeautifulSoup(response.text, "html.parser")
    return [int(row["data-article-id"]) for row in soup.select("tr.article-row")]


# -- list --------------------------------------------------------------------------------------


def test_list_shows_processed_articles_newest_first_with_counts(client, review_db):
    _, ids = review_db
    assert listed_ids(client) == [ids["eth"], ids["hostile"], ids["btc"], ids["quiet"]]
    soup = BeautifulSoup(client.get("/articles").text, "html.parser")
    btc_row = soup.select_one(f'tr[data-article-id="{ids["btc"]}"]')
    cells = [cell.get_text(" ", strip=True) for cell in btc_row.find_all("td")]
    assert cells[3] == "4 ▼3 ▲1"  # catalysts, bearish, bullish
    assert cells[4] == "6" and cells[5] == "4"  # figures, entities
    assert "1 conflict" in cells[2]
    assert cells[6] == "unreviewed 0/10"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?source=coindesk", ["eth", "quiet"]),
        ("?asset=ETH", ["eth"]),
        ("?asset=BTC", ["btc"]),
        ("?category=etf_flows", ["eth", "btc"]),
        ("?direction=bullish", ["eth", "btc"]),
        ("?direction=bullish&category=etf_flows", ["eth"]),
        ("?date_from=2026-02-06&date_to=2026-02-08", ["hostile", "btc"]),
        ("?date_to=2026-02-05", ["quiet"]),
        ("?q=rebounds", ["eth"]),
        ("?q=%25", []),  # LIKE wildcards are searched for literally
        ("?q=%3Cscript%3E", ["hostile"]),
        ("?status=unreviewed", ["eth", "hostile", "btc", "quiet"]),
        ("?status=reviewed", []),
    ],
)
def test_list_filters(client, review_db, query, expected):
    _, ids = review_db
    assert listed_ids(client, query) == [ids[name] for name in expected]


def test_list_rejects_malformed_filters_with_a_reason(client):
    response = client.get("/articles?date_from=06/02/2026&direction=sideways")
    assert response.status_code == 400
    assert "2026-02-06" in response.text and "sideways" in response.text


def test_list_pagination(review_db):
    path, ids = review_db
    with Store.open(path) as store:
        filters = ArticleFilter()
        first, total = review_queries.list_articles(store, filters, page=1, per_page=3)
        second, _ = review_queries.list_articles(store, filters, page=2, per_page=3)
    assert total == 4
    assert [row.id for row in first] == [ids["eth"], ids["hostile"], ids["btc"]]
    assert [row.id for row in second] == [ids["quiet"]]


def test_review_status_moves_from_unreviewed_to_partly_to_reviewed(client, review_db):
    path, ids = review_db
    article = client.get(f"/articles/{ids['eth']}")
    token = csrf_of(article.text)
    with Store.open(path) as store:
        tags = review_queries.article_tags(store, ids["eth"])
    targets = [("catalyst", stored.id) for stored in tags.catalysts]
    targets += [("figure", stored.id) for stored in tags.figures]
    for number, (kind, target) in enumerate(targets):
        response = client.post(f"/articles/{ids['eth']}/review", data={
            "csrf_token": token, "target_kind": kind, "target_id": target, "action": "accept"})
        assert response.status_code == 200  # followed the 303 back to the article
        expected = "reviewed" if number == len(targets) - 1 else "partly"
        assert listed_ids(client, f"?status={expected}") == [ids["eth"]]
    assert ids["eth"] not in listed_ids(client, "?status=unreviewed")


# -- article view ------------------------------------------------------------------------------


def marks_by_key(soup: BeautifulSoup) -> dict[str, str]:
    """Each tag's highlighted text: its pieces joined (paragraph gaps are not rendered)."""
    texts: dict[str, list[str]] = {}
    for mark in soup.select("#article-text mark[data-key]"):
        texts.setdefault(mark["data-key"], []).append(mark.get_text())
    return {key: "".join(pieces) for key, pieces in texts.items()}


def test_article_highlights_every_tag_at_its_offsets(client, review_db):
    path, ids = review_db
    soup = BeautifulSoup(client.get(f"/articles/{ids['btc']}").text, "html.parser")
    paragraphs = soup.select("#article-text p.para")
    assert [p.get_text() for p in paragraphs] == BTC_TEXT.split("\n\n")
    for paragraph in paragraphs:  # the data-start offsets index the stored text
        start = int(paragraph["data-start"])
        assert BTC_TEXT[start:int(paragraph["data-end"])] == paragraph.get_text()
    highlighted = marks_by_key(soup)
    with Store.open(path) as store:
        tags = review_queries.article_tags(store, ids["btc"])
    expected = {
        f"{stored.kind}-{stored.id}": BTC_TEXT[stored.tag.start_char:stored.tag.end_char]
        for stored in (*tags.entities, *tags.figures, *tags.catalysts)
    }
    assert highlighted == expected
    assert len(expected) == 14


def test_figures_and_entities_nest_inside_their_catalyst(client, review_db):
    path, ids = review_db
    soup = BeautifulSoup(client.get(f"/articles/{ids['btc']}").text, "html.parser")
    outflow = tag_id(path, "figure", ids["btc"], "an outflow")
    mark = soup.select_one(f"#mark-figure-{outflow}")
    parent = mark.find_parent("mark")
    assert "tag-catalyst" in parent["class"] and "dir-bearish" in parent["class"]
    assert "$258 million" in mark.get_text()
    assert mark["title"].splitlines()[1:5] == [
        "value: -258,000,000", "unit: USD", "metric: etf_flow", "asset: BTC"]
    etfs = tag_id(path, "entity", ids["btc"], "Bitcoin ETFs")
    assert soup.select_one(f"#mark-entity-{etfs}").find_parent("mark", class_="tag-catalyst")
    bullish = soup.select("#article-text mark.tag-catalyst.dir-bullish")
    assert [m.get_text() for m in bullish] == [BTC_TEXT[BTC_TEXT.index("Analysts"):]]


def test_conflicts_are_flagged(client, review_db):
    path, ids = review_db
    soup = BeautifulSoup(client.get(f"/articles/{ids['btc']}").text, "html.parser")
    banner = soup.select_one("section.conflicts")
    assert "liquidations" in banner.get_text() and "values differ 1000x" in banner.get_text()
    for snippet in ("$2.65 billion", "$2.65 million"):
        figure_id = tag_id(path, "figure", ids["btc"], snippet)
        assert "conflict" in soup.select_one(f"#mark-figure-{figure_id}")["class"]


def test_tag_details_and_original_link(client, review_db):
    path, ids = review_db
    soup = BeautifulSoup(client.get(f"/articles/{ids['btc']}").text, "html.parser")
    link = soup.select_one("a.original")
    assert link["href"] == "https://news.example.com/btc-slides"
    assert set(link["rel"]) == {"noopener", "noreferrer"}
    etf = tag_id(path, "catalyst", ids["btc"], "U.S. spot")
    card = soup.select_one(f"#card-catalyst-{etf}")
    facts = dict(zip([dt.get_text() for dt in card.select("dt")],
                     [dd.get_text() for dd in card.select("dd")], strict=True))
    assert facts["direction"] == "bearish" and facts["category"] == "etf_flows"
    assert facts["confidence"] == "0.88" and facts["model"] == MODEL
    assert soup.select_one("#help-line").get_text().startswith("j/k")


def test_hostile_text_is_always_escaped(client, review_db):
    _, ids = review_db
    pages = [client.get("/articles").text, client.get(f"/articles/{ids['hostile']}").text,
             client.get("/articles?q=%3Cscript%3E").text]
    for html in pages:
        assert "<script>" not in html and "<img" not in html and "<b>hacked" not in html
        soup = BeautifulSoup(html, "html.parser")
        assert [tag.get("src") for tag in soup.find_all("script")] == ["/static/review.js"]
        assert not soup.find_all("img") and not soup.find_all("b")
        for tag in soup.find_all(True):
            assert not any(name.startswith("on") for name in tag.attrs), tag
    article = BeautifulSoup(pages[1], "html.parser")
    assert article.select_one("h1.title").get_text() == HOSTILE_TITLE
    assert [p.get_text() for p in article.select("p.para")] == HOSTILE_TEXT.split("\n\n")
    assert "&lt;script&gt;alert(&#39;text&#39;)&lt;/script&gt;" in pages[1]
    response = client.get(f"/articles/{ids['hostile']}")
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_a_headline_stored_as_the_first_paragraph_is_shown_once_with_its_tags(tmp_path):
    path = tmp_path / "headed.db"
    article_id = build_headed_db(path)
    with TestClient(create_app(path, reviewer="ana"), base_url="http://127.0.0.1") as client:
        soup = BeautifulSoup(client.get(f"/articles/{article_id}").text, "html.parser")
    reading = soup.select_one("article.reading")
    assert reading.get_text().count(HEADED_TITLE) == 1
    heading = reading.select_one("h1.title.para")
    assert heading.get_text() == HEADED_TITLE and heading["data-start"] == "0"
    assert heading.select_one("mark.tag-catalyst.dir-bullish") is not None
    assert [p.get_text() for p in reading.select("p.para")] == ETH_TEXT.split("\n\n")


def test_unknown_article_is_404(client):
    assert client.get("/articles/9999").status_code == 404


def test_next_article_skips_reviewed_ones(client, review_db):
    _, ids = review_db
    response = client.get(f"/articles/{ids['eth']}/next", follow_redirects=False)
    assert response.headers["location"] == f"/articles/{ids['hostile']}"
    response = client.get(f"/articles/{ids['quiet']}/next", follow_redirects=False)
    assert response.headers["location"] == f"/articles/{ids['eth']}"  # wraps round


# -- judgements --------------------------------------------------------------------------------


def test_post_without_valid_csrf_token_is_refused(client, review_db):
    path, ids = review_db
    target = tag_id(path, "catalyst", ids["btc"], "U.S. spot")
    form = {"target_kind": "catalyst", "target_id": target, "action": "reject"}
    assert client.post(f"/articles/{ids['btc']}/review", data=form).status_code == 403
    wrong = form | {"csrf_token": "x" * 43}
    assert client.post(f"/articles/{ids['btc']}/review", data=wrong).status_code == 403
    assert client.post(f"/articles/{ids['btc']}/add", data={"start_char": 0, "end_char": 5,
                       "direction": "bullish", "category": "macro"}).status_code == 403
    assert client.post("/reviewer", data={"reviewer": "mallory"}).status_code == 403
    assert corrections(path) == []


def test_accept_reject_correct_add_round_trip(client, review_db):
    path, ids = review_db
    before = model_rows(path)
    article_id = ids["btc"]
    token = csrf_of(client.get(f"/articles/{article_id}").text)
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    etf = tag_id(path, "catalyst", article_id, "U.S. spot")
    fear = tag_id(path, "catalyst", article_id, "The Fear")
    dollar = tag_id(path, "catalyst", article_id, "Analysts")
    outflow = tag_id(path, "figure", article_id, "an outflow")
    url = f"/articles/{article_id}/review"

    answer = client.post(url, headers=headers, data={
        "target_kind": "catalyst", "target_id": etf, "action": "accept"})
    assert answer.json() | {"correction_id": 0} == {
        "correction_id": 0, "key": f"catalyst-{etf}", "state": "accept", "reviewer": "ana"}
    assert client.post(url, headers=headers, data={
        "target_kind": "catalyst", "target_id": fear, "action": "reject"}).status_code == 200
    # The correction form starts from the model's values: unchanged ones are not recorded.
    assert client.post(url, headers=headers, data={
        "target_kind": "catalyst", "target_id": dollar, "action": "correct",
        "direction": "neutral", "category": "macro", "assets": "btc, eth"}).status_code == 200
    assert client.post(url, headers=headers, data={
        "target_kind": "figure", "target_id": outflow, "action": "correct",
        "value": "-258000000", "unit": "USD", "metric": "etf_flow", "asset": "IBIT"},
    ).status_code == 200
    sentence = "Bitcoin fell to $60,000 on Friday"
    start = BTC_TEXT.index(sentence)
    added = client.post(f"/articles/{article_id}/add", headers=headers, data={
        "start_char": start - 0, "end_char": start + len(sentence) + 1,  # a trailing space
        "direction": "bearish", "category": "price_action", "assets": "BTC"})
    assert added.json()["sentence"] == sentence
    # A second reviewer changes their mind about the rejected catalyst: the latest one counts.
    client.post("/reviewer", data={"csrf_token": token, "reviewer": "ben"})
    client.post(url, headers=headers, data={
        "target_kind": "catalyst", "target_id": fear, "action": "accept"})

    rows = corrections(path)
    assert [(r["target_kind"], r["target_id"], r["action"], r["reviewer"]) for r in rows] == [
        ("catalyst", etf, "accept", "ana"),
        ("catalyst", fear, "reject", "ana"),
        ("catalyst", dollar, "correct", "ana"),
        ("figure", outflow, "correct", "ana"),
        ("catalyst", None, "add", "ana"),
        ("catalyst", fear, "accept", "ben"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["created_at"]) for r in rows)
    corrected = json.loads(rows[2]["fields"])
    assert {k: v for k, v in corrected.items() if k != "was"} == {
        "direction": "neutral", "assets": ["BTC", "ETH"]}
    assert corrected["was"]["direction"] == "bullish"
    assert {k: v for k, v in json.loads(rows[3]["fields"]).items() if k != "was"} == {
        "asset": "IBIT"}
    assert json.loads(rows[4]["fields"]) == {
        "sentence": sentence, "start_char": start, "end_char": start + len(sentence),
        "direction": "bearish", "category": "price_action", "assets": ["BTC"]}
    assert model_rows(path) == before  # review never touches the model's rows

    soup = BeautifulSoup(client.get(f"/articles/{article_id}").text, "html.parser")
    assert "state-accept" in soup.select_one(f"#card-catalyst-{fear}")["class"]
    assert "ben" in soup.select_one(f"#card-catalyst-{fear} .state-note").get_text()
    assert "state-correct" in soup.select_one(f"#mark-catalyst-{dollar}")["class"]
    assert "dir-neutral" in soup.select_one(f"#mark-catalyst-{dollar}")["class"]
    added_mark = soup.select_one(f"#mark-added-{rows[4]['id']}")
    assert marks_by_key(soup)[added_mark["data-key"]] == sentence
    assert listed_ids(client, "?status=partly") == [article_id]


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"action": "correct", "direction": "sideways"}, "direction must be one of"),
        ({"action": "correct", "direction": "bearish"}, "at least one field"),
        ({"action": "correct", "category": "<b>x</b>"}, "use letters"),
        ({"action": "delete"}, "action must be one of"),
        ({"action": "accept", "target_kind": "article"}, "target_kind must be one of"),
    ],
)
def test_bad_judgements_are_refused_with_a_reason(client, review_db, form, reason):
    path, ids = review_db
    token = csrf_of(client.get(f"/articles/{ids['btc']}").text)
    target = tag_id(path, "catalyst", ids["btc"], "U.S. spot")
    data = {"csrf_token": token, "target_kind": "catalyst", "target_id": target} | form
    response = client.post(f"/articles/{ids['btc']}/review", data=data)
    assert response.status_code == 400 and reason in response.text
    assert corrections(path) == []


def test_judging_a_tag_of_another_article_is_404(client, review_db):
    path, ids = review_db
    token = csrf_of(client.get(f"/articles/{ids['btc']}").text)
    eth_tag = tag_id(path, "catalyst", ids["eth"], "Spot Ether")
    response = client.post(f"/articles/{ids['btc']}/review", data={
        "csrf_token": token, "target_kind": "catalyst", "target_id": eth_tag, "action": "reject"})
    assert response.status_code == 404 and corrections(path) == []


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (10, 10), (0, 10_000), (40, 30)])
def test_added_catalyst_offsets_must_lie_in_the_text(client, review_db, start, end):
    path, ids = review_db
    token = csrf_of(client.get(f"/articles/{ids['eth']}").text)
    response = client.post(f"/articles/{ids['eth']}/add", data={
        "csrf_token": token, "start_char": start, "end_char": end, "direction": "bullish",
        "category": "macro"})
    assert response.status_code == 400 and corrections(path) == []


# -- export ------------------------------------------------------------------------------------


def judge_some(path: Path, ids: dict[str, int]) -> dict[str, int]:
    with Store.open(path) as store:
        tags = {name: review_queries.article_tags(store, ids[name]) for name in ("btc", "eth")}
        btc = {stored.tag.sentence[:9]: stored for stored in tags["btc"].catalysts}
        etf, dollar, fear = btc["U.S. spot"], btc["Analysts "], btc["The Fear "]
        outflow = next(s for s in tags["btc"].figures if s.tag.metric == "etf_flow")
        ether = tags["eth"].entities[0]

        def judge(article, kind, stored, action, **changes):
            return review_queries.add_correction(
                store, article_id=ids[article], target_kind=kind, target_id=stored.id,
                action=action, fields={"was": snapshot(stored), **changes}, reviewer="ana")

        judge("btc", "catalyst", etf, "accept")
        judge("btc", "catalyst", fear, "reject")
        judge("btc", "catalyst", dollar, "correct", direction="neutral")
        judge("btc", "figure", outflow, "correct", asset="IBIT")
        judge("eth", "entity", ether, "reject")
        sentence = "Ether climbed 8% to $3,400"
        added = review_queries.add_correction(
            store, article_id=ids["eth"], target_kind="catalyst", target_id=None, action="add",
            fields={"sentence": sentence, "start_char": 0, "end_char": len(sentence),
                    "direction": "bullish", "category": "price_action", "assets": ["ETH"]},
            reviewer="ben")
    return {"etf": etf.id, "fear": fear.id, "dollar": dollar.id,
            "outflow": outflow.id, "ether": ether.id, "added": added}


def test_gold_export(review_db, tmp_path):
    path, ids = review_db
    judged = judge_some(path, ids)
    output = tmp_path / "gold.jsonl"
    with Store.open(path) as store:
        assert export_corrections(store, output) == 6
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    catalysts = [line for line in lines if line["kind"] == "catalyst"]
    assert [(c["text"][:9], c["direction"], c["category"], c["action"]) for c in catalysts] == [
        ("U.S. spot", "bearish", "etf_flows", "accept"),
        ("The Fear ", "neutral", "none", "reject"),  # rejected: "not a catalyst"
        ("Analysts ", "neutral", "macro", "correct"),
        ("Ether cli", "bullish", "price_action", "add"),
    ]
    for line in catalysts:
        text = BTC_TEXT if line["article_id"] == ids["btc"] else ETH_TEXT
        assert text[line["start_char"]:line["end_char"]] == line["text"]
        assert line["source"] == "review" and line["reviewer"] in ("ana", "ben")
    assert catalysts[2]["model_direction"] == "bullish"
    assert catalysts[0]["catalyst_id"] == judged["etf"]
    figure_line = next(line for line in lines if line["kind"] == "figure")
    assert figure_line | {"reviewed_at": "", "correction_id": 0} == figure_line | {
        "text": "an outflow of $258 million", "value": -2.58e8, "unit": "USD",
        "metric": "etf_flow", "asset": "IBIT", "valid": True, "figure_id": judged["outflow"],
        "reviewed_at": "", "correction_id": 0}
    entity_line = next(line for line in lines if line["kind"] == "entity")
    assert entity_line["valid"] is False and entity_line["text"] == "Ether"

    # The direction trainer and evaluator read the catalyst lines as training examples.
    from pipeline.direction.data import read_direction_jsonl

    catalysts_only = tmp_path / "catalysts.jsonl"
    with Store.open(path) as store:
        assert export_corrections(store, catalysts_only, kinds=("catalyst",)) == 4
    examples = read_direction_jsonl(catalysts_only)
    assert [example.text for example in examples] == [c["text"] for c in catalysts]


def test_gold_export_to_stdout(review_db, tmp_path, capsys):
    path, ids = review_db
    judge_some(path, ids)
    with Store.open(path) as store:
        assert export_corrections(store, "-", kinds=("catalyst",)) == 4
        export_corrections(store, tmp_path / "gold.jsonl", kinds=("catalyst",))
    assert capsys.readouterr().out == (tmp_path / "gold.jsonl").read_text(encoding="utf-8")


def test_label_studio_export(review_db, tmp_path):
    path, ids = review_db
    judged = judge_some(path, ids)
    output = tmp_path / "tasks.json"
    with Store.open(path) as store:
        assert export_corrections(store, output, fmt="labelstudio") == 2
        from pipeline.review.corrections import label_studio_config

        config = label_studio_config(store)
    tasks = {task["id"]: task for task in json.loads(output.read_text(encoding="utf-8"))}
    assert set(tasks) == {ids["btc"], ids["eth"]}
    btc = tasks[ids["btc"]]
    assert btc["data"]["text"] == BTC_TEXT
    predicted = btc["predictions"][0]["result"]
    assert btc["predictions"][0]["model_version"] == MODEL
    assert len(predicted) == 4 * 2 + 6 + 4  # two results per catalyst region
    for result in predicted + btc["annotations"][0]["result"]:
        value = result["value"]
        assert BTC_TEXT[value["start"]:value["end"]] == value["text"]
        assert result["to_name"] == "text" and result["type"] == "labels"
    annotated = {(r["id"], r["from_name"]): r["value"]["labels"]
                 for r in btc["annotations"][0]["result"]}
    assert annotated == {
        (f"catalyst-{judged['etf']}", "direction"): ["bearish"],
        (f"catalyst-{judged['etf']}", "category"): ["etf_flows"],
        (f"catalyst-{judged['dollar']}", "direction"): ["neutral"],
        (f"catalyst-{judged['dollar']}", "category"): ["macro"],
        (f"figure-{judged['outflow']}", "figure"): ["etf_flow"],
    }  # the rejected catalyst is left out
    eth_annotated = tasks[ids["eth"]]["annotations"][0]["result"]
    assert [r["id"] for r in eth_annotated] == [f"added-{judged['added']}"] * 2
    assert tasks[ids["eth"]]["annotations"][0]["meta"]["reviewers"] == ["ana", "ben"]
    for control in ("direction", "category", "figure", "entity"):
        assert f'<Labels name="{control}" toName="text">' in config
    assert '<Label value="none"/>' in config and '<Label value="etf_flow"/>' in config


def test_unknown_export_format_is_refused(review_db, tmp_path):
    path, _ = review_db
    with Store.open(path) as store, pytest.raises(ValueError, match="labelstudio"):
        export_corrections(store, tmp_path / "x", fmt="csv")


# -- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_serving_beyond_loopback_needs_a_token(review_db, host):
    path, _ = review_db
    with pytest.raises(ReviewSetupError, match="--token"):
        serve(path, host=host, port=0)


def test_a_token_guards_every_request(review_db):
    path, ids = review_db
    with TestClient(create_app(path, token="s3cret-token"), base_url="http://127.0.0.1") as guarded:
        for url in ("/articles", f"/articles/{ids['btc']}", "/static/review.js"):
            assert guarded.get(url).status_code == 401
        assert guarded.get("/articles?token=wrong").status_code == 401
        assert guarded.get("/articles", headers={"X-Newsignal-Token": "s3cret-token"}
                           ).status_code == 200
        login = guarded.get("/articles?token=s3cret-token&source=coindesk",
                            follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/articles?source=coindesk"
        assert "httponly" in login.headers["set-cookie"].lower()
        assert guarded.get(f"/articles/{ids['btc']}").status_code == 200  # via the cookie


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(ReviewSetupError, match="no such database"):
        create_app(tmp_path / "absent.db")


# -- highlight builder -------------------------------------------------------------------------


def test_overlapping_tags_are_split_into_well_nested_pieces():
    text = "alpha beta gamma delta"
    highlights = [Highlight("a", "entity", 0, 10), Highlight("b", "figure", 6, 16)]
    [paragraph] = render_text(text, highlights)
    assert str(paragraph.html) == (
        '<mark class="tag tag-entity" data-key="a" id="mark-a" tabindex="0">alpha '
        '<mark class="tag tag-figure" data-key="b" id="mark-b" tabindex="0">beta</mark></mark>'
        '<mark class="tag tag-figure cont" data-key="b"> gamma</mark> delta'
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(alphabet="ab<>&\"' \n", min_size=1, max_size=12), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20),
                       st.sampled_from(["entity", "figure", "catalyst"])), max_size=6),
)
def test_highlights_preserve_text_and_cover_exactly_their_offsets(chunks, raw_spans):
    text = "\n\n".join(chunks)
    highlights = [Highlight(f"t{i}", kind, min(s, len(text)), min(s + n, len(text)))
                  for i, (s, n, kind) in enumerate(raw_spans)]
    paragraphs = render_text(text, highlights)
    assert [(p.start, p.end) for p in paragraphs] == paragraph_spans(text)
    html = "".join(f'<p data-start="{p.start}">{p.html}</p>' for p in paragraphs)
    # A strict XML parser proves the markup well formed and keeps whitespace exactly.
    root = ElementTree.fromstring(f"<div>{html}</div>")
    for element, paragraph in zip(root.findall("p"), paragraphs, strict=True):
        assert "".join(element.itertext()) == text[paragraph.start:paragraph.end]
    covered: dict[str, str] = {}
    for mark in root.iter("mark"):
        covered[mark.get("data-key")] = covered.get(mark.get("data-key"), "") + "".join(
            mark.itertext())
    for highlight in highlights:
        inside = "".join(text[max(highlight.start, p.start):min(highlight.end, p.end)]
                         for p in paragraphs)
        assert covered.get(highlight.key, "") == inside
        first_pieces = [m for m in root.iter("mark") if m.get("id") == f"mark-{highlight.key}"]
        assert len(first_pieces) == (1 if inside else 0)


# -- over real HTTP: host names, origins, numbers ------------------------------------------------

@pytest.fixture()
def live(review_db, serve_app):
    """The app served by uvicorn on 127.0.0.1; requests may lie about their Host and Origin."""
    import httpx

    path, ids = review_db
    port = serve_app(create_app(path, reviewer="ana", allowed_hosts=("127.0.0.1", "localhost",
                                                                      "review.lan")))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        yield http, port, path, ids


def test_a_foreign_host_name_is_refused_dns_rebinding(live) -> None:
    http, port, _, ids = live
    evil = {"Host": f"evil.example:{port}"}
    refused = http.get(f"/articles/{ids['btc']}", headers=evil)
    assert refused.status_code == 400 and "csrf" not in refused.text.lower()
    for name in ("127.0.0.1", "localhost", "review.lan"):  # the app's own names still work
        assert http.get(f"/articles/{ids['btc']}", headers={"Host": f"{name}:{port}"}).status_code == 200


def test_a_write_from_another_origin_is_refused_even_with_the_token(live) -> None:
    http, port, path, ids = live
    page = http.get(f"/articles/{ids['btc']}")
    token = csrf_of(page.text)
    catalyst_id = tag_id(path, "catalyst", ids["btc"], "")
    form = {"csrf_token": token, "target_kind": "catalyst", "target_id": str(catalyst_id),
            "action": "reject"}
    before = len(corrections(path))
    cross = http.post(f"/articles/{ids['btc']}/review", data=form,
                      headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert len(corrections(path)) == before
    same = http.post(f"/articles/{ids['btc']}/review", data=form,
                     headers={"Origin": f"http://127.0.0.1:{port}"})
    assert same.status_code == 303 and len(corrections(path)) == before + 1


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309", "NaN"])
def test_a_figure_correction_must_be_a_finite_number(live, value) -> None:
    http, _, path, ids = live
    token = csrf_of(http.get(f"/articles/{ids['btc']}").text)
    figure_id = tag_id(path, "figure", ids["btc"], "")
    answer = http.post(f"/articles/{ids['btc']}/review", data={
        "csrf_token": token, "target_kind": "figure", "target_id": str(figure_id),
        "action": "correct", "value": value})
    assert answer.status_code == 400 and "finite" in answer.text
    with sqlite3.connect(path) as db:  # every stored JSON column still parses for SQLite
        assert db.execute("SELECT count(*) FROM corrections WHERE json_valid(fields) = 0"
                          ).fetchone()[0] == 0


@pytest.mark.parametrize("article_id", ["99999999999999999999999", "9223372036854775808", "0"])
def test_an_article_id_past_any_row_is_404_not_500(live, article_id) -> None:
    http, _, _, _ = live
    assert http.get(f"/articles/{article_id}").status_code == 404
    assert http.get(f"/articles/{article_id}/next").status_code == 404
