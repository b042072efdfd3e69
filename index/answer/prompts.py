"""Text templates from prompts/, with their placeholders checked when they are loaded."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

# template name -> (placeholders it must use, placeholders it may use)
TEMPLATES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "not_found": (frozenset(), frozenset({"question"})),
    "answer": (frozenset({"answer", "sources"}), frozenset({"question"})),
    "closest": (frozenset({"not_found", "sources"}), frozenset({"question"})),
    "source": (frozenset({"n", "title", "quote"}), frozenset({"date", "place", "doc_id", "source", "score"})),
    "llm_answer": (frozenset({"question", "passages"}), frozenset()),
    "start": (frozenset({"documents"}), frozenset()),
    "help": (frozenset(), frozenset()),
}


class PromptError(Exception):
    """A template is missing or uses the wrong placeholders."""


@dataclass(frozen=True)
class Prompts:
    texts: dict[str, str]

    def render(self, name: str, **values: object) -> str:
        return self.texts[name].format(**values).strip("\n")


def load_prompts(folder: Path) -> Prompts:
    texts = {}
    for name, (required, optional) in TEMPLATES.items():
        path = folder / f"{name}.txt"
        if not path.is_file():
            raise PromptError(f"missing template {path}")
        text = path.read_text(encoding="utf-8")
        used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
        if missing := required - used:
            raise PromptError(f"{path} must use {{{'}, {'.join(sorted(missing))}}}")
        if unknown := used - required - optional:
            raise PromptError(f"{path} uses unknown placeholder {{{'}, {'.join(sorted(unknown))}}}")
        texts[name] = text
    return Prompts(texts)
