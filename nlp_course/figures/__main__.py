"""``python -m nlp_course.figures [--out DIR]``: redraw every diagram.

Without ``--out`` the figures go to the repository's ``img/`` when the package runs from a
checkout (``pyproject.toml`` and ``img/`` beside the package); an installed copy has no such
folder, so it asks for ``--out`` instead of writing into site-packages.
"""

import argparse
import sys

import matplotlib

matplotlib.use("Agg")

from nlp_course.figures import default_out_dir, draw_all  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlp_course.figures", description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="folder for the PNG files (default: the checkout's img/)")
    args = parser.parse_args(argv)
    target = args.out if args.out is not None else default_out_dir()
    if target is None:
        print("error: not running from a repository checkout (no pyproject.toml and img/ beside "
              "the package); pass --out DIR", file=sys.stderr)
        return 2
    for path in draw_all(target):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
