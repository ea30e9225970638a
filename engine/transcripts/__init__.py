"""Transcripts: what one run read and decided, saved as versioned JSON (`--record`),
and replay, which evaluates a pipeline again from a transcript alone.

Imports `engine.run` and the layers below it.
"""
