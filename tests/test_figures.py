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


def test_cli_default_and_out(tmp_path, monkeypatch, capsys):
    import nlp_course.figures as figures
    import nlp_course.figures.__main__ as cli

    # from this checkout the default is the repository's img/ (never site-packages)
    assert figures.default_out_dir() == figures.REPO_IMG
    # an installed copy: no pyproject.toml beside the package -> no default
    assert figures.default_out_dir(tmp_path / "site-packages" / "img") is None
    drawn = []
    monkeypatch.setattr(cli, "draw_all", lambda out: drawn.append(str(out)) or [])
    assert cli.main(["--out", str(tmp_path / "figs")]) == 0
    monkeypatch.setattr(cli, "default_out_dir", lambda: None)
    assert cli.main([]) == 2
    assert drawn == [str(tmp_path / "figs")]
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--out" in err
