"""Train the reader on a borrowed GPU machine: pack what it needs, and unpack what it sends back.

The machine has torch and transformers but no network and no citebot install; it gets a copy of
the checkout (64 MiB at most) and sends back at most 8 files of 16 MiB. So:
- `pack` writes .device/ (git ignores it): the MiniLM weights in fp16 (about 45 MB) and the
  gzipped SQuAD train file (8 MB). The checkout's own reader models (about 23 MB each) must stay
  behind for that call: `pack` says how.
- the machine runs index.reader.train with the gpu recipe and splits the fp16 weights into parts;
- `unpack` joins the parts into .citebot/reader/gpu, ready for `make export-reader READER_RECIPE=gpu` (the span
  reader) and, if `make bench-reader-features` finds its margins worth it, `make refit-answer-reader`.

    python -m index.reader.device pack
    python -m index.reader.device unpack FOLDER_THE_FILES_CAME_TO
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKED = ROOT / ".device"
WEIGHTS = ROOT / ".citebot" / "reader" / "gpu"
SQUAD_TRAIN = ROOT.parent / "shared" / "datasets" / "squad-train" / "squad-train-442-mixed.json.gz"
PART = "model.safetensors.part-"
COMMAND = ("python3 -m index.reader.train --recipe gpu --base .device/base --squad-train .device/{data} --out /tmp/w "
           "&& mkdir -p $OUT/w && cp /tmp/w/config.json /tmp/w/training.json $OUT/w/ "
           f"&& split -b 15M /tmp/w/model.safetensors $OUT/w/{PART}")


def pack() -> None:
    import torch
    from transformers import AutoModel

    from index.reader.train import default_base

    shutil.rmtree(PACKED, ignore_errors=True)
    base = PACKED / "base"
    AutoModel.from_pretrained(str(default_base()), dtype=torch.float16).save_pretrained(str(base))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (default_base() / name).is_file():
            shutil.copy(default_base() / name, base / name)
    shutil.copy(SQUAD_TRAIN, PACKED / SQUAD_TRAIN.name)
    size = sum(p.stat().st_size for p in PACKED.rglob("*") if p.is_file()) / 2**20
    print(f"packed {PACKED} ({size:.0f} MiB, ignored by git). Move index/models/reader/model.onnx and "
          "index/models/answer_reader/model.onnx aside for the call, which carries 64 MiB at most (git checkout "
          "restores them), then run with carry ['.device'] and timeout_s 540:\n  "
          + COMMAND.format(data=SQUAD_TRAIN.name))


def unpack(folder: Path) -> None:
    parts = sorted((folder / "w").glob(PART + "*"))
    if not parts:
        raise SystemExit(f"no {PART}* files in {folder / 'w'}")
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    with open(WEIGHTS / "model.safetensors", "wb") as joined:
        for part in parts:
            joined.write(part.read_bytes())
    for name in ("config.json", "training.json"):
        shutil.copy(folder / "w" / name, WEIGHTS / name)
    print(f"unpacked into {WEIGHTS}; now: make export-reader READER_RECIPE=gpu (the span reader), then "
          "CITEBOT_ANSWER_READER_MODEL=index/models/reader make bench-reader-features, before make refit-answer-reader "
          "READER_RECIPE=gpu")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["pack"]:
        pack()
    elif args[:1] == ["unpack"] and len(args) == 2:
        unpack(Path(args[1]))
    else:
        print(__doc__.split("\n\n")[-1], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
