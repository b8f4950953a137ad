"""The `handouts` commands, one module per group of verbs over the same engine.

Each command parses its options, makes one call into the engine and prints the result;
errors reach the user as one line through `handoutkit.cli.HandoutsGroup`.
"""
