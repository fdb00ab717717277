"""Backfill throughput: `--engine local` against `--engine ray` with 1 and 2 CPUs, in one run.

The 181 real pages of the article-extraction benchmark (../shared/datasets) are packed into one
CC-NEWS-style WARC (one gzip member per response record). Each configuration runs in a fresh child
process into a fresh output directory, so each pays its own start: model loading, and for Ray the
local cluster and its actors. Reported: wall time and pages/s end to end, and Ray's overhead over
local at 1 CPU.

    python benchmarks/backfill_bench.py [--rounds 1]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
BENCH = REPO_ROOT.parent / "shared" / "datasets" / "article-extraction-benchmark"
CONFIGS = {"local": ("local", None), "ray-1": ("ray", 1), "ray-2": ("ray", 2)}


def pack_warc(path: Path) -> int:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    truth = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for page_id in sorted(truth):
            body = gzip.decompress((BENCH / "html" / f"{page_id}.html.gz").read_bytes())
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            url = truth[page_id].get("url") or f"https://bench.example/{page_id}"
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers
            ))
    return len(truth)


def run_one(config: str, warc: str, output: str) -> None:
    """Child process: one backfill, its timing as JSON on stdout."""
    from pipeline.backfill import BackfillOptions, run_backfill

    engine, cpus = CONFIGS[config]
    started = time.perf_counter()
    report = run_backfill(BackfillOptions(inputs=[warc], output=Path(output), engine=engine,
                                          num_cpus=cpus))
    seconds = time.perf_counter() - started
    print(json.dumps({"config": config, "pages": report.pages, "seconds": seconds,
                      "counts": dict(report.counts)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--child", nargs=3, metavar=("CONFIG", "WARC", "OUTPUT"))
    args = parser.parse_args()
    if args.child:
        run_one(*args.child)
        return
    if not (BENCH / "ground-truth.json").is_file():
        raise SystemExit(f"{BENCH}: not present (see ../shared/datasets/README.md)")
    with tempfile.TemporaryDirectory(prefix="backfill-bench-") as folder:
        warc = Path(folder) / "bench.warc.gz"
        pages = pack_warc(warc)
        print(f"{pages} pages, WARC {warc.stat().st_size / 1e6:.1f} MB")
        results: dict[str, list[dict]] = {config: [] for config in CONFIGS}
        for round_number in range(args.rounds):
            for config in CONFIGS:
                output = Path(folder) / f"out-{config}-{round_number}"
                completed = subprocess.run(
                    [sys.executable, __file__, "--child", config, str(warc), str(output)],
                    check=True, capture_output=True, text=True,
                )
                result = json.loads(completed.stdout.strip().splitlines()[-1])
                results[config].append(result)
                print(f"  {config:6s} {result['seconds']:7.1f} s  "
                      f"{result['pages'] / result['seconds']:5.2f} pages/s  {result['counts']}")
        best = {config: min(r["seconds"] for r in runs) for config, runs in results.items()}
        print("\nbest of rounds:")
        for config, seconds in best.items():
            print(f"  {config:6s} {pages / seconds:5.2f} pages/s ({seconds:.1f} s)")
        print(f"ray-1 / local time: {best['ray-1'] / best['local']:.2f}x "
              f"(Ray's overhead at 1 CPU: {100 * (best['ray-1'] / best['local'] - 1):+.0f}%)")
        print(f"ray-2 speed-up over ray-1: {best['ray-1'] / best['ray-2']:.2f}x")


if __name__ == "__main__":
    main()
