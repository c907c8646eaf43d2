"""``python -m web …``: the ``workermap`` command, kept for old scripts (use ``python -m cli``)."""

from cli import main

main(prog_name="workermap")
