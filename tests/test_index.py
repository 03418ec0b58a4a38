"""notebooks/00_index.ipynb: the 28 interview questions, each linked to sections that exist."""

import json
import re
from pathlib import Path
from urllib.parse import unquote

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
INDEX = NOTEBOOKS / "00_index.ipynb"
LINK = re.compile(r"\]\(([0-9]{2}_[a-z0-9_]+\.ipynb)(?:#([^)\s]+))?\)")


def _markdown(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def anchors(path: Path) -> set[str]:
    """JupyterLab's heading anchors: the heading text with spaces turned into '-'."""
    return {m.group(1).strip().replace(" ", "-")
            for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", _markdown(path), flags=re.M)}


def test_anchor_rule():
    assert "4-·-Transfer-learning-(question-26)" in anchors(NOTEBOOKS / "08_bert_masked_lm.ipynb")


def test_index_is_markdown_only_and_lists_the_28_questions_in_order():
    nb = json.loads(INDEX.read_text(encoding="utf-8"))
    assert {c["cell_type"] for c in nb["cells"]} == {"markdown"}
    numbers = [int(n) for n in re.findall(r"^\*\*Q(\d+)\. ", _markdown(INDEX), flags=re.M)]
    assert numbers == list(range(1, 29))


def test_every_question_links_to_sections_that_exist():
    text = _markdown(INDEX)
    entries = re.split(r"^\*\*Q\d+\. ", text, flags=re.M)[1:]
    assert len(entries) == 28
    for number, entry in enumerate(entries, 1):
        sections = [(f, a) for f, a in LINK.findall(entry) if a]
        assert sections, f"Q{number} links to no notebook section"
    for name, fragment in LINK.findall(text):
        target = NOTEBOOKS / name
        assert target.is_file(), f"{name} does not exist"
        if fragment:
            assert unquote(fragment) in anchors(target), f"{name} has no heading for #{unquote(fragment)}"
