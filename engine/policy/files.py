"""Policy files: which ones apply, and reading each one against the schema.

Unknown sections and keys and wrong types are errors naming the file: a typo in a
security policy must never pass silently.
"""

from __future__ import annotations

import os

from engine.core.diagnostics import UsageError
from engine.policy.layering import Policy, combine
from engine.policy.schema import FORK_SECTIONS, SCHEMA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from engine.policy.layering import Settings

POLICY_ENV = "REACTORCIDE_PIPELINE_POLICY"


def policy_files(cli_files: Iterable[str], environ: dict[str, str] | os._Environ[str]
                 ) -> list[str]:
    """Files named by $REACTORCIDE_PIPELINE_POLICY (os.pathsep-separated), then by --policy."""
    value = environ.get(POLICY_ENV, "")
    from_env = value.split(os.pathsep) if value else []
    if "" in from_env:
        # `:` or `a::b` would otherwise apply fewer files than the operator meant.
        raise UsageError(f"{POLICY_ENV} has an empty entry ({value!r}); name each policy "
                         f"file, separated by {os.pathsep!r}", POLICY_ENV)
    return [*from_env, *cli_files]


def load_policy(paths: Iterable[str], over: Policy | None = None) -> Policy:
    """Read and layer policy files (over the files of `over`, when given, which are not
    read again); UsageError (exit 2) naming file and key on any mistake."""
    parsed = [(path, _read(path)) for path in paths]
    return combine([*(over.layers if over is not None else ()), *parsed])


def _read(path: str) -> Settings:
    import tomllib

    from engine.common.regular_file import FileRefused, MiB, read_regular
    from engine.policy.values import check_value, suggest

    try:
        data = tomllib.loads(read_regular(path, MiB, what="policy file").decode("utf-8"))
    except FileNotFoundError:
        raise UsageError("policy file not found", path) from None
    except FileRefused as err:
        raise UsageError(str(err), path) from None
    except OSError as err:
        raise UsageError(f"cannot read the policy file: {err.strerror}", path) from None
    except UnicodeDecodeError:
        raise UsageError("policy file is not UTF-8 text", path) from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"policy file is not valid TOML: {err}", path) from None
    checked: Settings = {}
    fork = data.pop("fork_pr", None)
    if fork is not None:
        checked["fork_pr"] = _read_fork_table(path, fork)
    for section, table in data.items():
        _check_section(path, section, table)
        checked[section] = {}
        for key, value in table.items():
            if key not in SCHEMA[section]:
                known = ", ".join(SCHEMA[section])
                raise UsageError(
                    f"unknown key {section}.{key}"
                    f"{suggest(key, SCHEMA[section]) or f' ([{section}] has: {known})'}",
                    path,
                )
            kind = SCHEMA[section][key].kind
            checked[section][key] = check_value(path, f"{section}.{key}", kind, value)
    return checked


def _check_section(path: str, section: str, table: Any) -> None:
    """A top-level name of a file is a known section, and a table."""
    from engine.policy.values import suggest

    if not isinstance(table, dict) and section in SCHEMA:
        raise UsageError(f"[{section}] must be a table", path)
    if not isinstance(table, dict):
        owner = [name for name, keys in SCHEMA.items() if section in keys]
        where = f"[{owner[0]}]" if owner else f"one of {_sections()}"
        raise UsageError(f"{section} is set outside any section; settings belong in "
                         f"a section: {where}", path)
    if section not in SCHEMA:
        raise UsageError(f"unknown section [{section}]"
                         f"{suggest(section, SCHEMA) or ' (known: ' + _sections() + ')'}",
                         path)


def _read_fork_table(path: str, table: Any) -> Settings:
    """`[fork_pr]`: tables with the keys of [limits], [builtins] and [jobs]."""
    from engine.policy.values import check_value, suggest

    if not isinstance(table, dict):
        raise UsageError("[fork_pr] must be a table", path)
    out: Settings = {}
    for section, settings in table.items():
        if section not in FORK_SECTIONS:
            known = ", ".join(f"[fork_pr.{name}]" for name in FORK_SECTIONS)
            raise UsageError(f"fork_pr.{section} is not one of {known}", path)
        if not isinstance(settings, dict):
            raise UsageError(f"[fork_pr.{section}] must be a table", path)
        out[section] = {}
        for key, value in settings.items():
            if key not in SCHEMA[section]:
                raise UsageError(f"unknown key fork_pr.{section}.{key}"
                                 f"{suggest(key, SCHEMA[section])}", path)
            kind = SCHEMA[section][key].kind
            out[section][key] = check_value(path, f"{section}.{key}", kind, value)
    return out


def _sections() -> str:
    return ", ".join(f"[{name}]" for name in SCHEMA)
