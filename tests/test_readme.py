"""README stays true: its quick start is what CI runs, and its chapter table matches notebooks/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_quick_start_is_two_commands_that_ci_runs():
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    install, test = commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install_without_lab = install.split(" && jupyter lab")[0]
    assert install_without_lab in ci, "CI must install exactly as the README says"
    assert test in ci, "CI must run the README's test command"
    assert "--nbval-lax" not in ci and "--nbval-lax" not in (ROOT / "pyproject.toml").read_text()


def test_chapter_table_matches_notebooks():
    linked = re.findall(r"\]\((notebooks/\d\d_[a-z0-9_]+\.ipynb)\)", README)
    on_disk = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(linked) == on_disk
