"""The triggers document and what leaves the run: from decided jobs to the exact bytes
(`document`), the idempotency key (`operation_id`), the file written atomically under a
lock (`file`), the workflow output file (`state_file`), and submission to the
coordinator (`submit`).

Imports `engine.capabilities`, `engine.core` and `engine.common`.
"""
