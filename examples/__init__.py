"""Example pipelines for the engine and a demo that runs one against a real repository."""
