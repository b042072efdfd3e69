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
        return self._assemble(texts, unit_spans, encoded)

    def _for_actors(self) -> str:
        """The settings as JSON (secrets masked), folders absolute: an actor need not share our working folder."""
        s = self._settings
        return s.model_copy(update={"index_dir": s.index_dir.resolve(), "corpus_dir": s.corpus_dir.resolve()}) \
            .model_dump_json()

    def _assemble(self, texts: Sequence[str], unit_spans: Sequence[Sequence[Span]],
                  encoded: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        passages = np.zeros((len(texts), self.dim), np.float32)
        units: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        for item in encoded:
            passage_rows = np.frombuffer(item["passages"], np.float32).reshape(-1, self.dim)
            unit_rows = np.frombuffer(item["units"], np.float32).reshape(-1, self.dim)
            first = 0
            for row, passage in zip(item["rows"], passage_rows):
                passages[row] = passage
                units[row] = unit_rows[first : first + len(unit_spans[row])]
                first += len(unit_spans[row])
        return passages, np.concatenate(units)


class _EncodeBatches:
    """A Ray actor: the encoder opened once, then whole model batches encoded as the local path does."""

    def __init__(self, settings_json: str) -> None:
        from index.embed.encoders import open_encoder

        settings = Settings.model_validate_json(settings_json)
        self.encoder = open_encoder(settings, export_if_missing=True, threads=1)

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"rows": [], "passages": [], "units": []}
        for rows, texts, spans in zip(batch["rows"], batch["texts"], batch["spans"]):
            passages, units = self.encoder.encode_with_units(list(texts), [[tuple(s) for s in r] for r in spans])
            out["rows"].append(list(rows))
            out["passages"].append(passages.astype(np.float32).tobytes())
            out["units"].append(units.astype(np.float32).tobytes())
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
