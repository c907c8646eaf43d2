"""``python -m cli …`` is the ``workermap`` command."""

from cli import main

main(prog_name="workermap")
