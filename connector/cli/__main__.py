"""``python -m connector.cli``: same as the ``closedloop`` console script."""

from connector.cli import main

main()
