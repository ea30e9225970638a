"""Small helpers every layer may use: value records, the token's `Secret` and its one
`redact()`, capped reads of files the engine did not write, text shown on others' behalf,
did-you-mean, the JSON writer, background imports.

Imports nothing else of the engine.
"""
