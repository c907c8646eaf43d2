"""``python -m web …`` is the same as the ``workermap`` command."""

from web.cli import main

main()
