"""A sandboxed Starlark rules engine for Reactorcide CI ingest jobs."""

__version__ = "0.1.0"
