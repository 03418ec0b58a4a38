"""SQuAD EM / F1 on worked examples computed by hand (the official script is not packaged)."""

import pytest

from nlp_course.metrics import qa


def test_normalisation():
    assert qa.normalize_answer("  The  Eiffel-Tower!! ") == "eiffeltower"
    assert qa.normalize_answer("an apple a day") == "apple day"


def test_worked_examples():
    assert qa.exact_match("the Eiffel Tower.", "Eiffel Tower") == 1.0
    assert qa.exact_match("Tower", ["Eiffel Tower", "the tower"]) == 1.0
    assert qa.exact_match("Paris France", "Paris") == 0.0
    # pred {paris, france}, gold {paris}: P = 1/2, R = 1, F1 = 2/3
    assert qa.token_f1("Paris, France", "Paris") == pytest.approx(2 / 3)
    # repeated tokens count by multiplicity: pred "x y y", gold "y z": common 1, P 1/3, R 1/2 -> 0.4
    assert qa.token_f1("x y y", "y z") == pytest.approx(0.4)
    assert qa.token_f1("no overlap", "something else") == 0.0
    assert qa.token_f1("the", "a") == 1.0  # both normalise to empty -> 1 (official script)
    assert qa.token_f1("the", "Paris") == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="gold is empty"):
        qa.exact_match("x", [])
    with pytest.raises(TypeError, match="str"):
        qa.token_f1(None, "x")
