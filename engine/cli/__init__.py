"""The command line: parse the arguments, run the command, print, exit with its code.

The top of the engine: nothing imports it but `python -m engine`.
"""
