"""`python -m handoutkit` runs the command line, like the installed `handouts`."""

from handoutkit.cli import main

main(prog_name="handouts")
