"""`python -m calharness …` is `calharness …`."""

import sys

from calharness.cli import main

sys.exit(main())
