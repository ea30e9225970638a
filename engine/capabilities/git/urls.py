"""Remote URLs without credentials: what `git_info()`, transcripts and messages may show
of a repository's address.
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"([^@/:]*)(:.*)?@([^/:@]+:.*)", re.DOTALL)


def strip_credentials(url: str) -> str:
    """A remote URL without secrets.

    `https://user:token@host/x` -> `https://host/x` (a user alone can be a token too);
    for ssh, where the user name is needed and not secret, only a password goes:
    `ssh://git:pw@host/x` -> `ssh://git@host/x`, `git:pw@host:x` -> `git@host:x`.
    A query and a fragment go too (`?access_token=...`).
    """
    scheme = _SCHEME.match(url)
    if scheme is None:
        scp = _SCP.fullmatch(url)
        if scp is not None and scp.group(2):
            return f"{scp.group(1)}@{scp.group(3)}"
        return _loose_userinfo(url)
    start = scheme.end()
    slash = url.find("/", start)
    authority_end = len(url) if slash < 0 else slash
    at = url.rfind("@", start, authority_end)
    if at < 0:
        at = _malformed_userinfo_end(url, start, authority_end)
        if at < 0:
            return _without_query(url, start)
    userinfo = url[start:at]
    ssh = "ssh" in scheme.group(1).lower()
    user = userinfo.split(":", 1)[0] if ssh else ""
    rest = _without_query(url, at + 1)[at + 1:]
    return f"{url[:start]}{user + '@' if user else ''}{rest}"


def _loose_userinfo(url: str) -> str:
    """Forms git or curl may still read as a URL with credentials: `//u:p@host/x`,
    `https:/u:p@host/x`, `https:u:p@host/x`, `u:p@host/x`. A `user:password@` part
    goes entirely."""
    end = len(re.split(r"[?#]", url, maxsplit=1)[0])
    at = url.rfind("@", 0, end)
    if at < 0:
        return url
    start = url.rfind("/", 0, at) + 1
    if ":" not in url[start:at]:
        return url
    return url[:start] + url[at + 1:]


def _without_query(url: str, start: int) -> str:
    # Tokens travel in queries too (`?access_token=`); a fragment has no use in a remote.
    return url[:start] + re.split(r"[?#]", url[start:], maxsplit=1)[0]


def _malformed_userinfo_end(url: str, start: int, authority_end: int) -> int:
    # `https://user:pa/ss@host/x`: a `/` inside the password. A `:` before the first
    # `/` that is not followed by a port number can only be a password's start.
    colon = url.find(":", start, authority_end)
    if colon < 0 or url[colon + 1:authority_end].isdigit():
        return -1
    return url.find("@", authority_end)
