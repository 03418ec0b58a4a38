import random

import numpy as np
import pytest
import torch

from nlp_course.utils import cache_dir, check_shape, get_device, set_seed, smoke_mode


def test_set_seed_makes_all_three_generators_repeat():
    set_seed(123)
    a = (random.random(), np.random.rand(), torch.rand(3))
    set_seed(123)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1]
    torch.testing.assert_close(a[2], b[2])
    set_seed(124)
    assert random.random() != a[0]


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "1", True])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises((ValueError, TypeError), match="seed"):
        set_seed(bad)


def test_get_device():
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert get_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            get_device("cuda")


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_smoke_mode(monkeypatch, value, expected):
    monkeypatch.setenv("NLP_COURSE_SMOKE", value)
    assert smoke_mode() is expected


def test_smoke_mode_rejects_garbage(monkeypatch):
    monkeypatch.setenv("NLP_COURSE_SMOKE", "maybe")
    with pytest.raises(ValueError, match="NLP_COURSE_SMOKE"):
        smoke_mode()


def test_check_shape():
    x = torch.zeros(2, 3, 4)
    assert check_shape(x, (2, None, 4)) is x
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        check_shape(x, (2, 3))
    with pytest.raises(ValueError):
        check_shape(x, (2, 3, 5))
    with pytest.raises(TypeError):
        check_shape([1, 2], (2,))


def test_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NLP_COURSE_HOME", str(tmp_path))
    assert cache_dir("bert") == tmp_path / "bert"
    assert (tmp_path / "bert").is_dir()
