"""`python -m booking_service …` (see `python -m booking_service --help`)."""

import sys

from booking_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
