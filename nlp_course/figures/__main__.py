"""``python -m nlp_course.figures [OUT_DIR]``: redraw every diagram (default: the repo's img/)."""

import sys

import matplotlib

matplotlib.use("Agg")

from nlp_course.figures import REPO_IMG, draw_all  # noqa: E402

if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else REPO_IMG
    for path in draw_all(target):
        print(path)
