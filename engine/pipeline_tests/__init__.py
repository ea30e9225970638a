"""`engine test`: pipeline test cases, found and read (`cases`), run through the real
sandbox and policy (`runner`), and reported (`verdict`, `junit`).

Imports `engine.transcripts`, `engine.run` and the layers below them.
"""
