"""The command line: `main` parses the arguments, hands them to the command's module
(`ingest_command` for the default run and `plan`, `check_command`, `replay_command`,
`policy_command`; `test` and `plan --diff` to `engine.pipeline_tests` and `engine.plan`),
prints what went wrong and exits with the code. `shared` holds the exit codes and the
console the commands write to; `paint` colours diagnostics.

The top of the engine: nothing imports it but `python -m engine`.
"""
