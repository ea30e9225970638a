"""Self-signed TLS material for local test servers, made with the openssl CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

_OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def make_self_signed_cert(directory: Path, *, days: int = 2) -> tuple[Path, Path]:
    """Write a cert and key valid for 127.0.0.1 and localhost; return (cert_path, key_path)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    command = [
        _OPENSSL,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        str(key_path),
        "-out",
        str(cert_path),
        "-days",
        str(days),
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl failed ({result.returncode}): {result.stderr.strip()}")
    return cert_path, key_path
