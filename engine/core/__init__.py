"""The job model and its rules: which fields a job carries and how it is written
(`jobs`), the coordinator's field rules and the operator's for one job (`validate`,
`coordinator_rules`), the one job book every trigger of either API goes through
(`job_book`), the checks that need every job (`job_graph`), named workflows and
workflow state, the builtin table, limits and what a run used, and diagnostics (where a
problem is and how it is shown).

Imports only `engine.common`; everything else builds on it.
"""
