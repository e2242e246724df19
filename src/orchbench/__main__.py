"""`python -m orchbench` is the `orchbench` command."""

from orchbench.cli import main

main()
