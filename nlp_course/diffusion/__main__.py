"""Entry point: ``python -m nlp_course.diffusion {train,sample,eval} --help``."""

import sys

from .cli import main

sys.exit(main())
