"""`python -m mlops.cli`: the same as the `mlops` command."""
from mlops.cli import main

main()
