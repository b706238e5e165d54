"""The command line's subcommands, a module per group, each holding its commands' arguments and handlers:
`training_commands` (train, search), `evaluation_commands` (evaluate), `artifact_commands` (embed, bench,
calibrate, twins, data fetch). `guide/__main__.py` builds the parser from their `add_commands` and runs one.
Like `guide/__main__.py` it sits on top of every stage; no stage imports it.
"""
