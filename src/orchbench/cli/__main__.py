"""`python -m orchbench.cli` is the `orchbench` command."""

from orchbench.cli import main

main()
