# Tasks of the project. Run through the virtualenv made by the README's set-up command.

set shell := ["bash", "-euo", "pipefail", "-c"]

python := if path_exists(".venv/bin/python") == "true" { ".venv/bin/python" } else { "python3" }

# List the tasks.
default:
    @just --list

# Build a small real git repository, run a bundled example against it, print the plan.
demo:
    {{python}} -m examples.demo

# Run the engine as a Reactorcide eval job would for a fork's pull request: local bare
# repositories, a local HTTPS coordinator, nothing cloned beforehand.
demo-eval:
    {{python}} -m examples.demo_eval

# Lint, type-check and run every test (in parallel, one worker more than there are cores).
test: lint
    {{python}} -m pytest -q -n auto

# Regenerate docs/builtins.md and the editor stubs from the builtins' signatures and
# docstrings, and the JSON Schemas from the tables that check the files they describe.
docs:
    {{python}} -m pipeline_builtins.reference --write docs/builtins.md
    {{python}} -m pipeline_builtins.stubs --write editors/starlark
    {{python}} -m engine.schemas --write schemas

# ruff and mypy over the whole project.
lint:
    {{python}} -m ruff check .
    {{python}} -m mypy

# The speed figures with their floors and growth (`--quick`: fewer pairs), then start-up
# and scale, git change detection, coordinator lookups and replay. Never asserted in tests.
bench *args:
    {{python}} -m tests.bench.speed_bench {{args}}
    {{python}} -m tests.bench.run_bench
    {{python}} -m tests.bench.git_bench
    {{python}} -m tests.bench.coordinator_bench
    {{python}} -m tests.bench.replay_bench
    {{python}} -m tests.bench.checkout_bench

# Mutation testing of the safeguard modules (slow; not part of `just test`). With
# arguments, only those modules (e.g. `just mutate engine/capabilities/source_tree.py`). Prints every
# surviving mutant not reviewed as equivalent in tests/mutation/equivalent.txt. `just mutate --again`
# tries only the last run's survivors once more (after writing tests for them).
mutate *modules:
    {{python}} -m tests.mutation.run {{modules}}
