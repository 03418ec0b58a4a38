"""Every chapter can be used to self-test: a summary, and a quiz whose answers sit behind a collapsed
``<details>`` block after the questions (issue 20: quizzes used to print the answer in bold beside each
question)."""

import json
import re
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[01][0-9]_*.ipynb"))
CHAPTERS = [p for p in CHAPTERS if not p.name.startswith("00_")]


def markdown(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_all_eleven_chapters_are_checked():
    assert [p.name[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(1, 12)]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name[:2])
def test_chapter_has_a_summary_and_a_quiz_with_hidden_answers(path):
    text = markdown(path)
    assert re.search(r"^#+ (\d+\. )?Summary", text, re.M), f"{path.name}: no Summary heading"
    quiz = re.search(r"^#+ (\d+\. )?Quiz", text, re.M)
    assert quiz, f"{path.name}: no Quiz heading"
    details = text.find("<details>", quiz.end())
    assert details > 0, f"{path.name}: quiz answers are not in a <details> block"
    questions = text[quiz.end():details]
    assert not re.search(r"\*(right|wrong)\b", questions), f"{path.name}: an answer is marked beside its question"
    assert "</details>" in text[details:]
