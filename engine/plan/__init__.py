"""`plan`: the job graph as a person or a program reads it: stages (`stages`),
pictures (`pictures`), and `plan --diff` with its event scenarios (`diff`,
`scenarios`).

Imports `engine.run` and the layers below it.
"""
