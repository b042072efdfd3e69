"""Embed passages across a Ray cluster with Ray Data (`citebot index --ray [ADDRESS]`).

The local encoder still counts tokens and encodes questions; only passage embedding moves. Passages are
cut into exactly the model batches the local path makes (longest first, `embed_batch_size` at a time),
and each Ray actor encodes whole batches with the same model and runtime, so the vectors are the local
ones. An actor opens the encoder from the same settings: the bundled model ships inside the package
on every node; an ONNX export missing on a node is made there from it.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from index.embed.encoders import Encoder
from index.schema import Span
from index.settings import Settings
from index.store.files import error_line

BATCHES_PER_CALL = 8  # model batches one actor call encodes: fewer round trips, the same vectors


class RayUnavailable(Exception):
    """Ray is not installed, or its cluster cannot be reached."""


class RayEncoder:
    """An Encoder whose passages are embedded on Ray actors; tokens and questions stay with `local`."""

    def __init__(self, local: Encoder, settings: Settings, address: str) -> None:
        self.local = local
        self.model_id = local.model_id
        self.dim = local.dim
        self._settings = settings
        self._ray, self._data = _connect(address)  # before any work, so a cluster out of reach fails at once

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.local.count_tokens(texts)

    def is_common_word(self, word: str) -> bool:
        return self.local.is_common_word(word)

    def encode_query(self, text: str) -> np.ndarray:
        return self.local.encode_query(text)

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self.encode_with_units(texts, [[] for _ in texts], show_progress)[0]

    def encode_with_units(self, texts: Sequence[str], unit_spans: Sequence[Sequence[Span]],
                          show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """What the local encoder returns for the same arguments, computed on the cluster."""
        if not texts:
            return np.zeros((0, self.dim), np.float32), np.zeros((0, self.dim), np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        size = self._settings.embed_batch_size
        batches = [{"rows": order[i : i + size].tolist(), "texts": [texts[r] for r in order[i : i + size]],
                    "spans": [[list(s) for s in unit_spans[r]] for r in order[i : i + size]]}
                   for i in range(0, len(texts), size)]
        cpus = max(1, int(self._ray.cluster_resources().get("CPU", 1)))
        encoded = self._data.from_items(batches).map_batches(
            _EncodeBatches, fn_constructor_args=(self._for_actors(),), batch_size=BATCHES_PER_CALL,
            batch_format="pandas", num_cpus=1, compute=self._data.ActorPoolStrategy(size=cpus)).take_all()
        return assemble(self.dim, texts, unit_spans, encoded)

    def _for_actors(self) -> str:
        """The settings as JSON (secrets masked), folders absolute: an actor need not share our working folder."""
        s = self._settings
        return s.model_copy(update={"index_dir": s.index_dir.resolve(), "corpus_dir": s.corpus_dir.resolve()}) \
            .model_dump_json()

def assemble(dim: int, texts: Sequence[str], unit_spans: Sequence[Sequence[Span]],
             encoded: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The actors' batches put back in the caller's order, each checked first: a batch with vectors missing, of
    the wrong size, or not finite is refused with one line naming the worker that sent it, before anything is
    written (a missing row was once a zero vector in the index)."""
    passages = np.zeros((len(texts), dim), np.float32)
    units: list[np.ndarray | None] = [None] * len(texts)
    for item in encoded:
        worker = item.get("worker", "an unnamed worker")
        passage_rows = _rows(item["passages"], dim, worker)
        unit_rows = _rows(item["units"], dim, worker)
        expected_units = sum(len(unit_spans[row]) for row in item["rows"])
        if len(passage_rows) != len(item["rows"]) or len(unit_rows) != expected_units:
            raise RayUnavailable(f"{worker} returned {len(passage_rows)} passage and {len(unit_rows)} sentence "
                                 f"vectors for {len(item['rows'])} passages with {expected_units} sentences; "
                                 "nothing was written")
        if not (np.isfinite(passage_rows).all() and np.isfinite(unit_rows).all()):
            raise RayUnavailable(f"{worker} returned vectors that are not finite; nothing was written")
        first = 0
        for row, passage in zip(item["rows"], passage_rows):
            passages[row] = passage
            units[row] = unit_rows[first : first + len(unit_spans[row])]
            first += len(unit_spans[row])
    missing = [row for row, found in enumerate(units) if found is None]
    if missing:
        raise RayUnavailable(f"the cluster returned no vectors for {len(missing)} of {len(texts)} passages; "
                             "nothing was written")
    return passages, np.concatenate(units) if units else np.zeros((0, dim), np.float32)


def _rows(data: bytes, dim: int, worker: str) -> np.ndarray:
    if len(data) % (4 * dim):
        raise RayUnavailable(f"{worker} returned vectors of another size than {dim}; nothing was written")
    return np.frombuffer(data, np.float32).reshape(-1, dim)


class _EncodeBatches:
    """A Ray actor: the encoder opened once, then whole model batches encoded as the local path does."""

    def __init__(self, settings_json: str) -> None:
        from index.embed.encoders import open_encoder

        settings = Settings.model_validate_json(settings_json)
        self.encoder = open_encoder(settings, export_if_missing=True, threads=1)
        import ray

        self.worker = f"Ray worker {ray.get_runtime_context().get_actor_id()} on {socket.gethostname()}"

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"rows": [], "passages": [], "units": [], "worker": []}
        for rows, texts, spans in zip(batch["rows"], batch["texts"], batch["spans"]):
            passages, units = self.encoder.encode_with_units(list(texts), [[tuple(s) for s in r] for r in spans])
            out["rows"].append(list(rows))
            out["passages"].append(passages.astype(np.float32).tobytes())
            out["units"].append(units.astype(np.float32).tobytes())
            out["worker"].append(self.worker)
        return out


def _connect(address: str) -> tuple[Any, Any]:
    """ray and ray.data, connected to `address` ('local': a new cluster on this machine)."""
    from index.embed.offline import stay_offline

    stay_offline()
    if address == "local":
        # A cluster of our own serves this process alone, so it listens on loopback, as Ray's own clusters on
        # macOS do; on Linux Ray would bind the machine's address (read when ray is imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayUnavailable("Ray is not installed; install the cluster extra: pip install -e '.[cluster]'") from None
    if not ray.is_initialized():
        try:
            with warnings.catch_warnings():  # the client's timeout warning repeats the error below
                warnings.simplefilter("ignore")
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING, configure_logging=False)
        except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
            raise RayUnavailable(f"cannot reach the Ray cluster at {address} ({error_line(error)})") from None
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # Ray Data sets up its own loggers when imported; one line per dataset run is not the owner's concern.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray, ray.data
