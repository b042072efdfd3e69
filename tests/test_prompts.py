"""Templates are checked when loaded: a typo in a placeholder is caught, not shown to a user."""

from __future__ import annotations

import shutil

import pytest

from index.answer.prompts import PromptError, load_prompts
from index.settings import Settings


@pytest.fixture
def prompts_dir(tmp_path):
    target = tmp_path / "prompts"
    shutil.copytree(Settings().prompts_dir, target)
    return target


def test_project_templates_load_and_render(prompts_dir):
    prompts = load_prompts(prompts_dir)
    assert "do not answer" in prompts.render("not_found", question="q")
    assert prompts.render("answer", answer="A [1]", sources="[1] T", question="q").startswith("A [1]\n\nSources:")


def test_unknown_placeholder_is_named_with_its_file(prompts_dir):
    (prompts_dir / "answer.txt").write_text("{answer}\n{sources}\n{anwser}\n")
    with pytest.raises(PromptError, match=r"answer.txt uses unknown placeholder \{anwser\}"):
        load_prompts(prompts_dir)


def test_missing_placeholder_is_named(prompts_dir):
    (prompts_dir / "source.txt").write_text("[{n}] {title}\n")
    with pytest.raises(PromptError, match=r"source.txt must use \{quote\}"):
        load_prompts(prompts_dir)


def test_missing_template_file_is_named(prompts_dir):
    (prompts_dir / "not_found.txt").unlink()
    with pytest.raises(PromptError, match="missing template .*not_found.txt"):
        load_prompts(prompts_dir)
