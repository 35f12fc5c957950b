"""``python -m rmqwire``: the ``rmqwire`` command line."""

import sys

from .cli import main

sys.exit(main())
