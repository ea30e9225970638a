"""The Starlark interpreter (starlark-pyo3) wrapped for the engine: evaluating a
pipeline with its builtins and limits (`evaluate`), the binding's wording turned into
the pipeline's terms (`friendly`), and `check`'s lints over the syntax tree.

Runs inside the sandboxed child. Imports `pipeline_builtins` and the layers below it.
"""
