"""Engines: run the per-page path over the input files and hand the results back in input order.

Both engines yield, for each input file in turn, its `PageOutcome`s and `ArchiveProblem`s in file
order, then its `FileEnd`; the caller decides duplicates and writes in that order.

- `local_items`: this process reads and processes one batch after another (no Ray).
- `ray_items`: a Ray Data pipeline. One read task per input file streams its records
  (`map_batches` with a generator); `map_batches` over an actor pool runs `PageWorker`, so each
  actor loads spaCy and the direction model once; `preserve_order` hands the results back in
  input order. The same code runs on a local Ray (started here, `num_cpus` CPUs) and on a cluster
  (`address`: `auto` inside a `ray up`/KubeRay/Anyscale head, or `ray://host:10001`).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pipeline.backfill.archives import FileEnd, read_archive
from pipeline.backfill.pages import PageOutcome, PageWorker
from pipeline.config import Settings
from pipeline.processing import batched
from pipeline.records import ArchiveProblem

log = logging.getLogger(__name__)

# Pages per batch handed to a worker: large enough for spaCy's batching, small enough that the
# actors of a small input share the work evenly.
BATCH_PAGES = 8
# What one actor holds: spaCy, the int8 direction model and one batch (0.74 GB RSS measured for
# one nightly worker, see benchmarks/README.md), with headroom; Ray places actors by it.
ACTOR_MEMORY_BYTES = 1_500_000_000
BLOCK_BYTES = 1 << 20
# A local Ray's object store: pages in flight are small; Ray spills to disk past this.
LOCAL_OBJECT_STORE_BYTES = 512 * 1024 * 1024

Item = PageOutcome | ArchiveProblem | FileEnd


def local_items(
    files: list[tuple[int, str]],
    settings: Settings,
    since: datetime | None,
    until: datetime | None,
) -> Iterator[Item]:
    """The per-page path in this process, one batch at a time."""
    worker = PageWorker(settings, since, until)
    for ordinal, path in files:
        for chunk in batched(read_archive(path, ordinal, settings.max_body_bytes), BATCH_PAGES):
            yield from worker.process(chunk)


def _read_files(batch: dict[str, Any], max_body_bytes: int) -> Iterator[dict[str, list[bytes]]]:
    """Ray read stage: the records of each input file in the batch, pickled, in chunks."""
    for ordinal, path in zip(batch["ordinal"], batch["path"]):
        for chunk in batched(read_archive(str(path), int(ordinal), max_body_bytes), BATCH_PAGES):
            yield {"item": [pickle.dumps(item, protocol=5) for item in chunk]}


class _RayPageWorker:
    """Ray actor around `PageWorker`: the models load in the constructor, once per actor."""

    def __init__(self, settings: dict, since: datetime | None, until: datetime | None):
        import torch

        torch.set_num_threads(1)  # one CPU per actor: the pool is the parallelism
        self.worker = PageWorker(Settings(**settings), since, until)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        items = [pickle.loads(blob) for blob in batch["item"]]
        return {"item": [pickle.dumps(item, protocol=5) for item in self.worker.process(items)]}


def ray_items(
    files: list[tuple[int, str]],
    settings: Settings,
    since: datetime | None,
    until: datetime | None,
    *,
    num_cpus: int | None = None,
    address: str | None = None,
) -> Iterator[Item]:
    """The per-page path on Ray Data actors. Starts a local Ray unless one is running or
    `address` names a cluster; shuts down only a Ray it started."""
    import ray

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES, logging_level=logging.WARNING,
            )
        started = True
    try:
        yield from _run_dataset(files, settings, since, until, num_cpus)
    finally:
        if started:
            ray.shutdown()


def _run_dataset(files, settings, since, until, num_cpus) -> Iterator[Item]:
    import ray
    import ray.data

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    # Small blocks: a read task's pages would otherwise fill one block (128 MiB by default) and
    # reach a single actor, leaving the others idle on an input of a few files.
    context.target_max_block_size = BLOCK_BYTES
    actors = num_cpus or max(1, int(ray.available_resources().get("CPU", 1)))
    dataset = ray.data.from_items(
        [{"ordinal": ordinal, "path": path} for ordinal, path in files],
        override_num_blocks=len(files),
    )
    # Reading is light (decompression) next to NLP: read tasks take no CPU slot, so they run
    # beside the actors that hold every CPU.
    dataset = dataset.map_batches(
        _read_files, fn_kwargs={"max_body_bytes": settings.max_body_bytes}, batch_size=1,
        num_cpus=0,
    )
    dataset = dataset.map_batches(
        _RayPageWorker,
        fn_constructor_kwargs={"settings": settings.model_dump(), "since": since, "until": until},
        batch_size=BATCH_PAGES,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1,
        memory=ACTOR_MEMORY_BYTES,
    )
    for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        for blob in batch.column("item").to_pylist():
            yield pickle.loads(blob)
