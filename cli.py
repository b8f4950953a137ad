"""The `handouts` command line, runnable from a source checkout: `python cli.py --help`.

The commands live in the package (`handoutkit/cli.py`); this file only starts them, so
an editable install, a wheel and a checkout all run the same code.
"""

from handoutkit.cli import main

if __name__ == "__main__":
    main()
