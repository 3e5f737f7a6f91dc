"""``python -m pipeline.cli``: the ``petvoi`` command."""

import sys

from . import main

sys.exit(main())
