"""nlp_course.notebooks: full-mode recordings and the re-execution CLI's error contract."""

import json

import pytest

from nlp_course.notebooks import Recording, find_notebook, main


def test_save_merges_and_load_reads(tmp_path):
    rec = Recording("02_training_networks", root=tmp_path)
    rec.save(a=1.5, b=[1, 2])
    rec.save(b={"x": 3}, c="text")
    assert rec.load() == {"a": 1.5, "b": {"x": 3}, "c": "text"}
    text = (tmp_path / "02_training_networks.json").read_text()
    assert list(json.loads(text)) == ["a", "b", "c"]  # sorted keys: stable diffs


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1.0, float("-inf")], {"k": float("nan")}])
def test_non_finite_values_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="finite"):
        Recording("x", root=tmp_path).save(v=bad)
    assert not (tmp_path / "x.json").exists()


def test_missing_recording_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="--full 05"):
        Recording("05_word_embeddings", root=tmp_path).load()


@pytest.mark.parametrize("name", ["", "a/b", "02.ipynb", 3])
def test_bad_names(name):
    with pytest.raises(ValueError, match="name"):
        Recording(name)


def test_find_notebook_and_cli_errors(capsys):
    assert find_notebook("2").name.startswith("02_")
    with pytest.raises(ValueError, match="digits"):
        find_notebook("two")
    assert main(["--smoke", "99"]) == 2
    assert "error: expected one notebook numbered 99" in capsys.readouterr().err
