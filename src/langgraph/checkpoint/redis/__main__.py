"""`python -m langgraph.checkpoint.redis`: the `langgraph-redis` command (cli.py)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
