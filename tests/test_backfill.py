"""Backfills end to end: WARCs written here from the sample pages (with a truncated gzip member, a
non-HTML response, a repeated URL and a copy of a story under another URL) through `--engine local`
and `--engine ray` (a local Ray with 2 CPUs), against `newsignal process` on the same bytes;
interrupted runs resumed; the store import and the signal read from Parquet.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from builders import warc_record
from typer.testing import CliRunner

from pipeline.backfill import BackfillError, BackfillOptions, run_backfill
from pipeline.backfill.output import KINDS, FileOutput
from pipeline.cli import app
from pipeline.export import COLUMNS

SAMPLES = Path(__file__).resolve().parents[1] / "pipeline" / "samples" / "pages"
BASE = "https://samples.example/"
CANONICAL = re.compile(rb'<link rel="canonical" href="([^"]+)"\s*/?>')
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
runner = CliRunner()


def sample_pages() -> list[tuple[str, bytes]]:
    return [(BASE + path.relative_to(SAMPLES).as_posix(), path.read_bytes())
            for path in sorted(SAMPLES.rglob("*.html"))]


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict:
    """Two WARC files: the sample pages split between them, plus damage and repeats in the second."""
    folder = tmp_path_factory.mktemp("warcs")
    pages = sample_pages()
    half = len(pages) // 2
    first = [warc_record(url, body) for url, body in pages[:half]]
    first.insert(2, warc_record(BASE + "charts/btc.png", PNG, content_type="image/png"))
    copied_body = pages[0][1]
    # The page is kept under the address it declares; a crawl of that address is a repeat.
    declared = urljoin(pages[0][0], CANONICAL.search(copied_body).group(1).decode())
    truncated = warc_record(BASE + "lost/in-transit.html", pages[1][1])
    second = [warc_record(url, body) for url, body in pages[half:]]
    second.insert(1, truncated[: len(truncated) // 2])
    second.insert(3, warc_record(declared, copied_body))
    # The same story on another site, which declares no canonical: a text-hash duplicate.
    second.append(warc_record(BASE + "mirror/copy.html", CANONICAL.sub(b"", copied_body)))
    paths = [folder / "CC-NEWS-00000.warc.gz", folder / "CC-NEWS-00001.warc.gz"]
    paths[0].write_bytes(b"".join(first))
    paths[1].write_bytes(b"".join(second))
    return {"paths": [str(path) for path in paths], "pages": pages,
            "truncated_offset": sum(map(len, second[:1]))}


def table(root: Path, kind: str):
    """A dataset sorted by its rows' identity, without the partition column."""
    keys = ["article_id"] + ([] if kind == "articles" else ["start_char", "end_char"])
    data = ds.dataset(root / kind, format="parquet", partitioning="hive").to_table()
    return data.sort_by([(key, "ascending") for key in keys])


def backfill(archives, output: Path, **options):
    return run_backfill(BackfillOptions(inputs=archives["paths"], output=output, **options))


@pytest.fixture(scope="module")
def local_run(archives, tmp_path_factory):
    output = tmp_path_factory.mktemp("local") / "out"
    report = backfill(archives, output, engine="local")
    return output, report


@pytest.fixture(scope="module")
def ray_run(archives, tmp_path_factory):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 1024 * 1024,
             log_to_driver=False)
    try:
        output = tmp_path_factory.mktemp("ray") / "out"
        report = backfill(archives, output, engine="ray", num_cpus=2)
    finally:
        ray.shutdown()
    return output, report


def articles_by_url(root: Path) -> dict[str, dict]:
    return {row["url"]: row for row in table(root, "articles").to_pylist()}


def test_every_dataset_has_exactly_the_export_columns(local_run):
    output, _ = local_run
    for kind in KINDS:
        files = sorted((output / kind).glob("date=*/part-*.parquet"))
        assert files, kind
        for path in files:
            names = ds.dataset(path, format="parquet").schema.names
            assert names == [column.name for column in COLUMNS[kind]], path
    days = {path.parent.name for path in (output / "articles").glob("date=*/*.parquet")}
    assert "date=2026-02-06" in days and "date=unknown" in days  # the PNG has no date


def test_local_backfill_reads_everything_and_records_the_damage(local_run, archives):
    output, report = local_run
    manifest = json.loads((output / "_manifest.json").read_text())
    assert manifest["complete"] and manifest["inputs"] == archives["paths"]
    assert manifest["model"].endswith("+int8") and "newsignal-direction" in manifest["model"]
    problems = manifest["files"]["1"]["problems"]
    assert [problem["offset"] for problem in problems] == [archives["truncated_offset"]]
    assert manifest["files"]["0"]["problems"] == []
    assert manifest["totals"]["counts"]["repeated"] == 1
    rows = articles_by_url(output)
    png = rows[BASE + "charts/btc.png"]
    assert (png["status"], png["reject_reason"]) == ("rejected", "not_html: image/png")
    assert BASE + "lost/in-transit.html" not in rows
    # Every sample page after the truncated member was read.
    assert {url for url, _ in archives["pages"]} <= set(rows)
    copy, original = rows[BASE + "mirror/copy.html"], rows[archives["pages"][0][0]]
    assert copy["status"] == "duplicate" and copy["duplicate_of"] == original["article_id"]
    catalysts = table(output, "catalysts").to_pylist()
    assert not [row for row in catalysts if row["article_id"] == copy["article_id"]]
    assert report.counts == manifest["totals"]["counts"]
    assert sorted(row["article_id"] for row in rows.values()) == list(range(1, len(rows) + 1))


def test_ray_and_local_engines_write_the_same_datasets(local_run, ray_run):
    for kind in KINDS:
        assert table(ray_run[0], kind).equals(table(local_run[0], kind)), kind
    local_manifest = json.loads((local_run[0] / "_manifest.json").read_text())
    ray_manifest = json.loads((ray_run[0] / "_manifest.json").read_text())
    assert ray_manifest["files"] == local_manifest["files"]
    assert ray_manifest["model"] == local_manifest["model"]


def test_catalysts_match_newsignal_process_on_the_same_bytes(local_run, archives, tmp_path):
    output, _ = local_run
    rows = articles_by_url(output)
    catalysts = table(output, "catalysts").to_pylist()
    compared = 0
    for url, body in archives["pages"]:
        page = tmp_path / "page.html"
        page.write_bytes(body)
        result = runner.invoke(app, ["process", str(page), "--url", url])
        assert result.exit_code == 0, result.output
        processed = json.loads(result.stdout)
        expected = [(c["start_char"], c["end_char"], c["sentence"], c["category"], c["direction"])
                    for c in processed.get("catalysts", [])]
        article_id = rows[url]["article_id"]
        found = [(c["start_char"], c["end_char"], c["sentence"], c["category"], c["direction"])
                 for c in catalysts if c["article_id"] == article_id]
        assert found == expected, url
        assert rows[url]["status"] == processed["status"]
        compared += len(expected)
    assert compared > 100


def test_interrupted_backfill_resumes_to_the_same_result(local_run, archives, tmp_path, monkeypatch):
    output = tmp_path / "out"
    commit = FileOutput.commit

    def crash_on_second_file(self):
        if self.ordinal == 1:  # a crash halfway through renaming the second file's parts
            folder = self.root / "articles" / "date=2026-02-06"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "part-000001.parquet").write_bytes(b"half written")
            raise RuntimeError("power cut")
        commit(self)

    monkeypatch.setattr(FileOutput, "commit", crash_on_second_file)
    with pytest.raises(RuntimeError, match="power cut"):
        backfill(archives, output, engine="local")
    manifest = json.loads((output / "_manifest.json").read_text())
    assert list(manifest["files"]) == ["0"] and not manifest["complete"]
    monkeypatch.setattr(FileOutput, "commit", commit)

    report = backfill(archives, output, engine="local")
    assert (report.files_skipped, report.files_done) == (1, 1)
    for kind in KINDS:
        assert table(output, kind).equals(table(local_run[0], kind)), kind
    again = backfill(archives, output, engine="local")
    assert (again.files_skipped, again.files_done, again.pages) == (2, 0, 0)


def test_stop_after_the_first_file_then_resume(local_run, archives, tmp_path):
    output = tmp_path / "out"
    seen = []
    report = run_backfill(
        BackfillOptions(inputs=archives["paths"], output=output, engine="local"),
        progress=lambda state: seen.append(state.files_done), stop=lambda: seen[-1] >= 1,
    )
    assert report.interrupted and report.files_done == 1
    backfill(archives, output, engine="local")
    for kind in KINDS:
        assert table(output, kind).equals(table(local_run[0], kind)), kind


def test_limit_reads_that_many_pages_in_all(archives, tmp_path):
    output = tmp_path / "out"
    report = backfill(archives, output, engine="local", limit=3)
    assert report.pages == 3
    manifest = json.loads((output / "_manifest.json").read_text())
    assert manifest["complete"] and manifest["files"]["0"]["cut_by_limit"]
    assert backfill(archives, output, engine="local", limit=3).pages == 0
    with pytest.raises(BackfillError, match="other limit"):
        backfill(archives, output, engine="local", limit=4)


def test_import_and_signal_from_parquet_agree_with_the_store(local_run, tmp_path):
    output, _ = local_run
    db = tmp_path / "review.db"
    result = runner.invoke(app, ["import", "--from-parquet", str(output), "--db", str(db)])
    assert result.exit_code == 0, result.output
    from_parquet = runner.invoke(app, ["export", "signal", "--from-parquet", str(output)])
    from_store = runner.invoke(app, ["export", "signal", "--db", str(db)])
    assert from_parquet.exit_code == from_store.exit_code == 0
    assert from_parquet.stdout == from_store.stdout and from_parquet.stdout.count("\n") > 5
    exported = runner.invoke(app, ["export", "catalysts", "--db", str(db), "--format", "jsonl"])
    stored = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(stored) == table(output, "catalysts").num_rows
    again = runner.invoke(app, ["import", "--from-parquet", str(output), "--db", str(db)])
    assert "imported 0 articles" in again.output
    plot = runner.invoke(app, ["plot", "signal", "--from-parquet", str(output),
                               "--output", str(tmp_path / "btc.png")])
    assert plot.exit_code == 0 and (tmp_path / "btc.png").stat().st_size > 10_000


@pytest.mark.parametrize("arguments, message", [
    (["--input", "{missing}"], "absent.warc.gz: no such file"),
    (["--input", "{first}", "--engine", "local", "--num-cpus", "2"], "apply to --engine ray"),
    (["--input", "{first}", "--engine", "spark"], "--engine 'spark'"),
])
def test_bad_arguments_are_one_line_and_exit_2(archives, tmp_path, arguments, message):
    values = {"missing": str(tmp_path / "absent.warc.gz"), "first": archives["paths"][0]}
    arguments = [argument.format(**values) for argument in arguments]
    result = runner.invoke(app, ["backfill", *arguments, "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_output_of_another_backfill_is_refused(local_run, archives):
    result = runner.invoke(app, ["backfill", "--input", archives["paths"][0], "--engine", "local",
                                 "--output", str(local_run[0])])
    assert result.exit_code == 2 and "other inputs" in result.output
