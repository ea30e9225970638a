"""Operator policy: what pipelines may do, read from TOML files and layered so that
a later file can only tighten an earlier one.

Imports `engine.core` and `engine.common` only: a policy knows the job rules and the
builtin table, never how a run uses them.
"""
