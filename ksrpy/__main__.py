"""``python -m ksrpy`` is the ``ksrpy`` command."""

from .cli import main

main()
