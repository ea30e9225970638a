"""Transcripts: everything one ingest read and decided, as versioned JSON (`--record`).

A transcript holds the pipeline files, the environment values the run looked up, every
answer git, the coordinator and `load()` gave (failures included), the effective policy,
the existing triggers file, and the result. `python -m engine replay` re-evaluates from it
alone. The schema is described in docs/transcripts.md; `VERSION` changes whenever a
reader of the previous version would misread a new transcript.

No secret is written: the API token is replaced wherever it appears, and credentials
are removed from URLs in everything that came from outside the pipeline's own files.
"""

from __future__ import annotations

import json
import os

from engine.capabilities.base import CapabilityError
from engine.common.secret import REDACTED as _REDACTED
from engine.core.diagnostics import Diagnostic, UsageError
from engine.transcripts.scrub import Scrubber

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.core.diagnostics import EngineFailure
    from engine.run.ingest import RunOptions
    from engine.run.inputs import Inputs
    from engine.run.recorder import Recorder

FORMAT = "reactorcide-pipeline-transcript"
VERSION = 1
REDACTED = _REDACTED
MAX_BYTES = 64 * 1024 * 1024
_TOP_KEYS = ("format", "version", "engine_version", "run", "environment", "policy",
             "sources", "context", "answers", "warnings", "output", "previous_triggers",
             "result")
def build(recorder: Recorder, inputs: Inputs, options: RunOptions, *,
          document: bytes | None, failure: EngineFailure | None = None) -> dict[str, Any]:
    """The transcript of the run, scrubbed of secrets."""
    from engine import __version__
    from engine.policy import POLICY_ENV, policy_to_json

    scrub = Scrubber(inputs.token)
    environment: dict[str, str | None] = dict(inputs.environment)
    environment[POLICY_ENV] = inputs.environment.get(POLICY_ENV)
    environment["REACTORCIDE_API_TOKEN"] = REDACTED if inputs.token else None
    recorded = recorder.services.recorded() if recorder.services is not None else []
    sources = {inputs.pipeline_name: inputs.pipeline_text}
    answers: list[dict[str, Any]] = []
    for capability, method, args, answer in recorded:
        entry: dict[str, Any] = {"capability": capability, "method": method, "args": args}
        if isinstance(answer, CapabilityError):
            entry["error"] = str(answer)
        elif capability == "source" and isinstance(answer, dict):
            sources[answer["name"]] = answer["text"]
            entry["value"] = {"name": answer["name"]}
        else:
            entry["value"] = answer
        answers.append(entry)
    errors = [d.to_json() for d in failure.diagnostics] if failure is not None else []
    texts = [*sources.values(), *(b.decode("utf-8", "replace")
                                  for b in (recorder.previous, document) if b is not None)]
    recorder.token_in_inputs = any(scrub.secret(text) != text for text in texts)
    return {
        "format": FORMAT,
        "version": VERSION,
        "engine_version": __version__,
        "run": {
            "src_dir": inputs.src_dir,
            "pipeline": inputs.pipeline_name,
            "triggers_file": inputs.triggers_file,
            "dry_run": options.dry_run,
            "allow_insecure_transport": options.allow_insecure_transport,
        },
        "environment": scrub.deep(environment),
        "policy": scrub.deep(policy_to_json(options.policy)),
        "sources": scrub.deep(sources, urls=False),
        "context": scrub.deep(recorder.context),
        "answers": scrub.deep(answers),
        "warnings": scrub.deep(recorder.warnings),
        "output": scrub.deep(recorder.output),
        "previous_triggers": _text(recorder.previous, scrub),
        "result": {
            "exit_code": failure.exit_code if failure is not None else 0,
            "triggers": _text(document, scrub),
            "errors": scrub.deep(errors),
        },
    }


def _text(data: bytes | None, scrub: Scrubber) -> str | None:
    return None if data is None else scrub.secret(data.decode("utf-8", "replace"))


def check_writable(path: str, what: str = "the transcript") -> None:
    """Refuse, before anything runs, a path whose directory cannot be written."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what}: its directory does not exist or is not "
                         "writable", path)


def dumps(transcript: dict[str, Any]) -> str:
    """The transcript's text: stable key order, 2-space indent, final newline."""
    return json.dumps(transcript, indent=2, ensure_ascii=False) + "\n"


def save(path: str, transcript: dict[str, Any]) -> None:
    """Write a transcript atomically (temporary file, rename)."""
    import secrets

    directory = os.path.dirname(path) or "."
    # An unpredictable name, created exclusively and never through a link.
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        with os.fdopen(os.open(tmp, flags, 0o644), "w", encoding="utf-8") as handle:
            handle.write(dumps(transcript))
        os.replace(tmp, path)
    except OSError as err:
        raise UsageError(f"cannot write the transcript: {err.strerror}", path) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(path: str) -> dict[str, Any]:
    """Read and check a transcript; UsageError naming what is wrong."""
    from engine.common.regular_file import FileRefused, read_regular

    try:
        data = json.loads(read_regular(path, MAX_BYTES, what="transcript").decode("utf-8"))
    except FileNotFoundError:
        raise UsageError("transcript not found", path) from None
    except FileRefused as err:
        raise UsageError(str(err), path) from None
    except RecursionError:
        raise UsageError("not a readable transcript: nested too deep", path) from None
    except OSError as err:
        raise UsageError(f"cannot read the transcript: {err.strerror}", path) from None
    except (UnicodeDecodeError, ValueError) as err:
        raise UsageError(f"not a readable transcript: {err}", path) from None
    return check(data, path)


def is_transcript(data: Any) -> bool:
    """Whether JSON data claims to be a transcript (its `format`)."""
    return isinstance(data, dict) and data.get("format") == FORMAT


def check(data: Any, where: str) -> dict[str, Any]:
    """`data` if it is a transcript this engine can read; UsageError otherwise."""
    if not is_transcript(data):
        raise UsageError(f'not a transcript (no "format": "{FORMAT}")', where)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UsageError('the transcript\'s "version" is not a positive integer', where)
    if version > VERSION:
        raise UsageError(f"transcript version {version} was written by a newer engine; this "
                         f"engine reads version {VERSION}", where)
    missing = [key for key in _TOP_KEYS if key not in data]
    if missing:
        raise UsageError(f'the transcript lacks "{missing[0]}"', where)
    shapes: dict[str, type] = {"run": dict, "environment": dict, "policy": dict,
                               "sources": dict, "context": dict, "answers": list,
                               "warnings": list, "output": list, "result": dict}
    for key, kind in shapes.items():
        if not isinstance(data[key], kind):
            raise UsageError(f'the transcript\'s "{key}" must be a JSON {kind.__name__}', where)
    run = data["run"]
    for key in ("src_dir", "pipeline", "triggers_file"):
        if not isinstance(run.get(key), str):
            raise UsageError(f'the transcript\'s "run.{key}" must be a string', where)
    if not isinstance(data["sources"].get(run["pipeline"]), str):
        raise UsageError("the transcript does not hold the pipeline's text", where)
    for index, answer in enumerate(data["answers"]):
        if not (isinstance(answer, dict) and isinstance(answer.get("capability"), str)
                and isinstance(answer.get("method"), str)
                and isinstance(answer.get("args"), list)
                and ("value" in answer) != ("error" in answer)):
            raise UsageError(f"the transcript's answers[{index}] is malformed", where)
    previous = data["previous_triggers"]
    if previous is not None and not isinstance(previous, str):
        raise UsageError('the transcript\'s "previous_triggers" must be a string or null',
                         where)
    return dict(data)


def recorded_answers(data: dict[str, Any], where: str
                     ) -> tuple[tuple[str, str, list[Any], Any], ...]:
    """The answers to seed a replay with: values, or CapabilityError for failures."""
    out: list[tuple[str, str, list[Any], Any]] = []
    for answer in data["answers"]:
        capability, method, args = answer["capability"], answer["method"], answer["args"]
        if "error" in answer:
            out.append((capability, method, args, CapabilityError(str(answer["error"]))))
            continue
        value = answer["value"]
        if capability == "source" and isinstance(value, dict):
            name = value.get("name")
            text = data["sources"].get(name)
            if not isinstance(text, str):
                raise UsageError(f"the transcript does not hold the text of {name}", where)
            value = {"name": name, "text": text}
        out.append((capability, method, args, value))
    return tuple(out)


def recorded_errors(data: dict[str, Any]) -> list[Diagnostic]:
    """The diagnostics the recorded run ended with (none for a success)."""
    errors = data["result"].get("errors", [])
    return [Diagnostic.from_json(d) for d in errors] if isinstance(errors, list) else []
