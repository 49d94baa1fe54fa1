"""``python -m shop``."""

import sys

from shop.main import run

sys.exit(run())
