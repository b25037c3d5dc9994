"""``python -m edgemem`` runs the command-line interface."""

from edgemem.cli import main

main()
