"""Transformer inference with ONNX Runtime and dynamic int8 weights.

A torch model (our direction classifier, or the MiniLM encoder behind the category prototypes) is
exported to ONNX once, its weights quantised to int8 per channel (activations are quantised at run
time, full 8-bit range), and run by ONNX Runtime, one input per call (see `Int8Model`). On the
direction model this is over 2x the speed of the same weights in torch fp32, with macro-F1 within
0.2 point of fp32 on twitter valid and crypto held-out, where torch's own dynamic int8 (7-bit
activations on x86) lost 0.8 and 3.3 points (benchmarks/README.md).

Export and quantisation take about 6 s, so the result is cached under `cache_dir()`, named by a
key that changes with the weights, with the versions of everything that shapes the export and with
this module's own source. A cache file is written whole under a temporary name and renamed, so
worker processes exporting at the same time never read half a file; one that will not load is
exported again, and one left behind by an exporter that died mid-write is removed once stale.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

# Everything whose version can change the exported or quantised graph.
EXPORT_PACKAGES = ("torch", "transformers", "onnx", "onnxruntime")
# A partial file this old belongs to a dead exporter (a live one writes in well under a second).
STALE_PART_SECONDS = 3600


def cache_dir() -> Path:
    """`$NEWSIGNAL_CACHE_DIR`, else `$XDG_CACHE_HOME/newsignal`, else `~/.cache/newsignal`."""
    explicit = os.environ.get("NEWSIGNAL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsignal"


def cache_key(*parts: bytes | str | Path) -> str:
    """A digest of `parts` (weights, configs, names; a Path stands for its file's bytes, read in
    chunks), of the export packages' versions and of this module's source (a change to how models
    are exported makes new files)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name in EXPORT_PACKAGES:
        try:
            digest.update(f"{name}={version(name)};".encode())
        except PackageNotFoundError:
            digest.update(f"{name}=none;".encode())
    for part in parts:
        if isinstance(part, Path):
            with part.open("rb") as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        else:
            digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


class Int8Model:
    """An int8 ONNX Runtime session that judges each input alone.

    Dynamic int8 computes activation scales per call over the whole input tensor, so in a batch
    a sentence's answer would depend on its batch-mates (by up to 2 points of confidence, measured)
    and a tag on how the run happened to batch it. Inputs therefore run one by one, `threads` of
    them side by side on one-thread sessions: one sentence, one answer, whatever else is in flight.
    """

    def __init__(self, session, output: str, threads: int) -> None:
        self.session = session
        self.output = output
        self.threads = max(1, threads)
        self.input_names = [i.name for i in session.get_inputs()]
        self._pool: ThreadPoolExecutor | None = None

    def each(self, encodings: Sequence[Mapping[str, Sequence[int]]]) -> list[np.ndarray]:
        """The output for each encoding (token ids etc. of one text), shaped [1, ...]."""
        if self.threads == 1 or len(encodings) < 2:
            return [self._run(encoding) for encoding in encodings]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="int8")
        return list(self._pool.map(self._run, encodings))

    def each_text(self, tokenizer, texts: Sequence[str], max_length: int) -> list[np.ndarray]:
        """`each` over `texts` as `tokenizer` encodes them (truncated to `max_length`, unpadded)."""
        encodings = tokenizer(list(texts), truncation=True, max_length=max_length)
        return self.each([dict(zip(encodings.keys(), row)) for row in zip(*encodings.values())])

    def _run(self, encoding: Mapping[str, Sequence[int]]) -> np.ndarray:
        feed = {name: np.asarray([encoding[name]], dtype=np.int64) for name in self.input_names}
        return self.session.run([self.output], feed)[0]


def load_int8(
    make_model: Callable[[], torch.nn.Module],
    *,
    inputs: Sequence[str],
    output: str,
    key: str | None,
    threads: int | None = None,
) -> Int8Model:
    """The int8 ONNX Runtime twin of `make_model()` (called only when the cache has no copy).

    `inputs` are the names of the model's forward arguments (input_ids, attention_mask, ...);
    `output` the name of the one output kept. `key=None` skips the cache (export every time).
    `threads` (default: torch's setting) is how many inputs run side by side.
    """
    threads = threads or torch.get_num_threads()  # workers set 1
    path = cache_dir() / f"{key}.int8.onnx" if key else None
    if path is not None and path.is_file():
        try:
            return Int8Model(_session(path), output, threads)
        except Exception as exc:  # noqa: BLE001  (ORT raises its own untyped errors)
            log.warning("int8 model cache %s does not load (%s); exporting again", path, exc)
    with tempfile.TemporaryDirectory(prefix="newsignal-onnx-") as tmp:
        quantised = _export_int8(make_model(), inputs, output, Path(tmp))
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _remove_stale_parts(path.parent)
                partial = path.with_name(f"{path.name}.{os.getpid()}.part")
                partial.write_bytes(quantised.read_bytes())
                os.replace(partial, path)
            except OSError as exc:
                log.warning("cannot cache the int8 model in %s (%s); it is exported each time",
                            path.parent, exc)
        return Int8Model(_session(quantised), output, threads)


def _remove_stale_parts(directory: Path) -> None:
    cutoff = time.time() - STALE_PART_SECONDS
    for partial in directory.glob("*.part"):
        try:
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
        except OSError:  # another process removed it first
            pass


def _export_int8(model: torch.nn.Module, inputs: Sequence[str], output: str, tmp: Path) -> Path:
    import warnings

    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32, int8 = tmp / "model.onnx", tmp / "model.int8.onnx"
    sample = tuple(
        (torch.zeros if name == "token_type_ids" else torch.ones)((2, 8), dtype=torch.long)
        for name in inputs
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes on transformers' shape checks
        torch.onnx.export(
            _ByName(model.eval(), inputs, output),
            sample,
            str(fp32),
            input_names=list(inputs),
            output_names=[output],
            dynamic_axes={**axes, output: {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT well
        )
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # ORT's quantiser advises pre-processing on the root logger
    try:
        # 7-bit weights (reduce_range): u8 activations times s8 weights summed in pairs can
        # saturate 16-bit lanes on AVX2-only CPUs (VPMADDUBSW) but not with VNNI or AMX, so full
        # 8-bit weights gave answers that depend on the CPU. With 7 bits no pair can saturate, and
        # every x86 kernel computes the same integers.
        quantize_dynamic(
            str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
        )
    finally:
        root.setLevel(level)
    return int8


class _ByName(torch.nn.Module):
    """Positional inputs in `inputs` order, passed on by name; one output out. (Tokenizers and
    forward() list inputs in different orders, and outputs are ModelOutput objects.)"""

    def __init__(self, model: torch.nn.Module, inputs: Sequence[str], output: str) -> None:
        super().__init__()
        self.model = model
        self.inputs = list(inputs)
        self.output = output

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return getattr(self.model(**dict(zip(self.inputs, tensors))), self.output)


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread per call: Int8Model runs calls side by side instead, which is faster for single
    # sentences than splitting each small matrix product between threads.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # ORT's arena keeps the peak of every input shape for good: about 90 MB per worker here,
    # for no measurable speed.
    options.enable_cpu_mem_arena = False
    return onnxruntime.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"]
    )
