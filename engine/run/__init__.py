"""One run, end to end: the command-line arguments, the inputs snapshot taken once
from the environment (`inputs`, `event`, `context`), which pipeline an eval job trusts
and the checkouts it makes (`trusted_source`, `checkout`), and `ingest`, which wires the
backends, runs the sandbox, checks the jobs again and hands them to the writer.

Imports the layers below it (sandbox, triggers, policy, capabilities, core, common).
"""
