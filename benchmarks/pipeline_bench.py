"""End-to-end processing throughput, measured side by side in one run (network excluded).

Each configuration runs in a fresh child process on the same reproducible corpus
(benchmarks/corpus.py), so peak RSS is its own:
- bare:       the extracted texts through bare `en_core_web_sm` `nlp.pipe`
- ours-nlp:   the same texts through our whole spaCy pipeline (entities, figures, catalysts)
- other-model: with `--compare-model DIR`, ours-nlp with that direction model instead
- e2e-1, e2e-2: extraction -> dedup -> spaCy -> figures -> catalysts -> SQLite, 1 and 2 workers

    python benchmarks/pipeline_bench.py [--count 500] [--compare-model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class MemorySampler:
    """Peak memory of this process and its children (the worker pool), sampled every 0.1 s from
    /proc: the largest sum of RSS, which counts pages shared between processes (libraries, the
    parent's memory a fork inherits) once per process, and the largest sum of PSS, which splits
    each shared page among the processes sharing it, so it adds up to what the run takes."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_rss_kb = self.peak_pss_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        rss = pss = 0
        for pid in [os.getpid(), *_children(os.getpid())]:
            try:
                fields = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            except OSError:
                continue  # the child ended between listing and reading
            values = {line.split(":")[0]: int(line.split()[1]) for line in fields[1:]}
            rss += values.get("Rss", 0)
            pss += values.get("Pss", 0)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


def extracted_texts(pages) -> list[str]:
    from pipeline.extract import extract_article

    return [extract_article(body, url).text for url, body in pages]


def measure(mode: str, count: int, direction_model: str | None = None) -> dict:
    from benchmarks.corpus import build_corpus

    pages = build_corpus(count)
    if mode in ("bare", "ours-nlp", "other-model"):
        import torch

        from pipeline.nlp import build_nlp, load_base_model

        torch.set_num_threads(2)
        texts = extracted_texts(pages)
        with MemorySampler() as memory:  # model loading included
            if mode == "bare":
                nlp = load_base_model()
            elif mode == "other-model":
                nlp = build_nlp(direction_model=direction_model)
            else:
                nlp = build_nlp()
            list(nlp.pipe(texts[:8]))  # warm-up: lazy initialisation is not throughput
            started = time.perf_counter()
            for _ in nlp.pipe(texts, batch_size=16):
                pass
            seconds = time.perf_counter() - started
        return {"mode": mode, "articles": len(texts), "seconds": seconds,
                "articles_per_s": len(texts) / seconds, **_memory(memory)}

    from collections import Counter

    from pipeline.config import Settings
    from pipeline.processing import Processor, batched
    from pipeline.records import FeedEntry, FetchResult, RunReport
    from pipeline.run import ArticleWriter, StopFlag, _store_batch
    from pipeline.store import Store
    from pipeline.times import now_utc

    workers = int(mode.rsplit("-", 1)[1])
    if workers == 1:
        import torch  # with workers the parent never loads it, as in `newsignal run`

        torch.set_num_threads(2)
    jobs = [
        (FeedEntry(feed_name="bench", url=url, canonical_url=url),
         FetchResult(url=url, final_url=url, status=200, body=body,
                     text=body.decode("utf-8"), encoding="utf-8"))
        for url, body in pages
    ]
    counts: Counter[str] = Counter()
    with (
        MemorySampler() as memory,
        tempfile.TemporaryDirectory() as tmp,
        Store.open(Path(tmp) / "bench.db") as store,
    ):
        with Processor(workers=workers) as processor:
            processor.analyze(["Warm-up: Bitcoin fell 2% as ETF outflows reached $100 million."])
            writer = ArticleWriter(store, Settings(), processor.model, None)
            report = RunReport(run_id=None, started_at=now_utc())
            started = time.perf_counter()
            for batch in batched(jobs, processor.batch_size):
                _store_batch(writer, processor, batch, counts, report, StopFlag())
            seconds = time.perf_counter() - started
    return {"mode": mode, "articles": len(jobs), "seconds": seconds,
            "articles_per_s": len(jobs) / seconds,
            **_memory(memory), "statuses": dict(counts)}


def _memory(memory: MemorySampler) -> dict:
    return {"peak_rss_mb": memory.peak_rss_kb / 1024, "peak_pss_mb": memory.peak_pss_kb / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--compare-model", metavar="DIR",
                        help="also time our spaCy pipeline with this direction model (e.g. the "
                             "previous release, checked out to a folder) beside the shipped one")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # child-process mode
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.only, args.count, args.compare_model)))
        return
    results = {}
    modes = ["bare", "ours-nlp", "e2e-1", "e2e-2"]
    if args.compare_model:
        modes.insert(2, "other-model")
    for mode in modes:
        extra = ["--compare-model", args.compare_model] if args.compare_model else []
        completed = subprocess.run(
            [sys.executable, __file__, "--count", str(args.count), "--only", mode, *extra],
            capture_output=True, text=True, check=True,
        )
        results[mode] = json.loads(completed.stdout.strip().splitlines()[-1])
        row = results[mode]
        print(f"{mode:9s} {row['articles']:4d} articles  {row['seconds']:7.1f} s  "
              f"{row['articles_per_s']:6.2f} articles/s  peak RSS {row['peak_rss_mb']:6.0f} MB"
              f"  PSS {row['peak_pss_mb']:6.0f} MB"
              + (f"  {row['statuses']}" if "statuses" in row else ""))
    bare, ours = results["bare"]["seconds"], results["ours-nlp"]["seconds"]
    one, two = results["e2e-1"]["articles_per_s"], results["e2e-2"]["articles_per_s"]
    print(f"our spaCy pipeline / bare en_core_web_sm time: {ours / bare:.2f}x")
    if args.compare_model:
        other = results["other-model"]["seconds"]
        print(f"our spaCy pipeline, shipped / {args.compare_model} direction model time: "
              f"{ours / other:.2f}x")
    print(f"end to end, 2 workers / 1 worker throughput:   {two / one:.2f}x")
    print(f"end to end, best: {max(one, two):.2f} articles/s (goal >= 8); "
          f"peak PSS {max(r['peak_pss_mb'] for r in results.values()):.0f} MB (goal <= 1536)")


if __name__ == "__main__":
    main()
