"""Every figure module draws non-empty PNGs (generic: new modules are picked up automatically)."""

import importlib

import matplotlib

matplotlib.use("Agg")

from nlp_course.figures import draw_all, figure_modules  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_module_has_draw():
    names = figure_modules()
    assert {"activations", "neuron"} <= set(names)
    for name in names:
        assert callable(importlib.import_module(f"nlp_course.figures.{name}").draw)


def test_draw_all_writes_png_files(tmp_path):
    paths = draw_all(tmp_path / "img")
    assert len(paths) >= len(figure_modules())
    for path in paths:
        assert path.parent == tmp_path / "img"
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, path
