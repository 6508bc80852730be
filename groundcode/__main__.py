"""``python -m groundcode`` is the same as the ``groundcode`` command."""

from groundcode.cli import app

app()
