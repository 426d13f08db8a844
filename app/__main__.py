"""`python -m app --function NAME`: run one function service until SIGTERM."""

import sys

from app.server import run

if __name__ == "__main__":
    sys.exit(run())
