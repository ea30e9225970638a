"""`plan`: the job graph as a person or a program reads it: stages (`stages`), the
registry of `--format`s (`formats`), pictures (`pictures`), and `plan --diff` (`diff`,
which evaluates the pipeline at a commit (`at_commit`) and now, for each event scenario
(`scenarios`), compares the two plans (`changes`) and shows the result (`diff_formats`)).

Imports `engine.run` and the layers below it.
"""
