"""`check`: what it reads and how it reports the lints the sandboxed interpreter
finds (the lints themselves live in `engine.interpreter`).

Imports `engine.run` and the layers below it.
"""
