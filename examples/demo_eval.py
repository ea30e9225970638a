"""`python -m engine` as a Reactorcide eval job, end to end, on this machine.

``python -m examples.demo_eval`` (or ``just demo-eval``) builds, in a temporary
directory, an upstream repository and a fork of it as local bare repositories, and
starts a local HTTPS coordinator (the test suite's, with a throw-away certificate). It
then runs the engine exactly as a worker would for a pull request from the fork: with
the variables the coordinator sets, in an empty code directory, nothing cloned. The fork
also rewrites ``pipeline.star`` to deploy itself; that version is never evaluated. The
demo prints what the engine said and the jobs the coordinator received, and shows that
the triggers file is gone (the coordinator took it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PIPELINE = (Path(__file__).resolve().parent / "pipelines" / "pull_request_checks.star")
RULE = "-" * 72
FORK_PIPELINE = 'trigger_job("deploy-production", job_command = "make deploy")\n'


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": "1700000000 +0000",
           "GIT_COMMITTER_DATE": "1700000000 +0000", "GIT_CONFIG_GLOBAL": os.devnull}
    ident = ["-c", "user.name=Demo", "-c", "user.email=demo@example.com",
             "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *ident, *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def commit(work: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", message)
    return git(work, "rev-parse", "HEAD")


def main() -> int:
    sys.path.insert(0, str(PROJECT_ROOT))
    from tests.support.coordinator_server import FakeCoordinator
    from tests.support.tls import make_self_signed_cert

    root = Path(tempfile.mkdtemp(prefix="engine-demo-eval-"))
    try:
        upstream, fork = root / "upstream.git", root / "fork.git"
        git(root, "init", "-q", "--bare", str(upstream))
        work = root / "work"
        git(root, "clone", "-q", str(upstream), str(work))
        base = commit(work, {"pipeline.star": PIPELINE.read_text(), "src/app.py": "v1\n"},
                      "the project")
        git(work, "push", "-q", "origin", "main")
        git(root, "clone", "-q", "--bare", str(upstream), str(fork))
        fork_work = root / "fork-work"
        git(root, "clone", "-q", str(fork), str(fork_work))
        head = commit(fork_work, {"src/app.py": "v2\n", "pipeline.star": FORK_PIPELINE},
                      "a change from a fork")
        git(fork_work, "push", "-q", "origin", "main:feature/x")

        cert, key = make_self_signed_cert(root)
        with FakeCoordinator(tls=(cert, key)) as coordinator:
            coordinator.add_job("eval", "running", job_id="eval-42")
            job = root / "job"
            (job / "src").mkdir(parents=True)  # what the worker creates: empty
            env = {
                **{k: v for k, v in os.environ.items()
                   if not k.startswith(("REACTORCIDE_", "RC_WF_", "GIT_"))},
                "REQUESTS_CA_BUNDLE": str(cert),
                "REACTORCIDE_COORDINATOR_URL": coordinator.url,
                "REACTORCIDE_API_TOKEN": coordinator.token,
                "REACTORCIDE_JOB_ID": "eval-42",
                "REACTORCIDE_CODE_DIR": str(job / "src"),
                "REACTORCIDE_CI_SOURCE_DIR": str(job / "ci"),
                "REACTORCIDE_TRIGGERS_FILE": str(job / "triggers.json"),
                "REACTORCIDE_EVENT_TYPE": "pull_request_opened",
                "REACTORCIDE_PROVIDER": "github", "REACTORCIDE_REPO": "demo/shop",
                "REACTORCIDE_BRANCH": "main", "REACTORCIDE_PR_NUMBER": "42",
                "REACTORCIDE_PR_REF": "feature/x", "REACTORCIDE_HEAD_REF": "feature/x",
                "REACTORCIDE_PR_BASE_REF": "main", "REACTORCIDE_BASE_REF": "main",
                "REACTORCIDE_DIFF_BASE": base, "REACTORCIDE_IS_FORK_PR": "true",
                "REACTORCIDE_SOURCE_URL": str(fork), "REACTORCIDE_SHA": head,
                "REACTORCIDE_HEAD_URL": str(fork), "REACTORCIDE_BASE_URL": str(upstream),
                "REACTORCIDE_CI_SOURCE_URL": str(upstream), "REACTORCIDE_CI_SOURCE_REF": base,
            }
            print(RULE)
            print("$ python -m engine   (a fork's pull request #42; nothing cloned yet)")
            print(RULE, flush=True)
            result = subprocess.run([sys.executable, "-m", "engine"], cwd=job / "src",
                                    env=env, check=False)
            print(RULE)
            for received in coordinator.triggers_received:
                names = [j["job_name"] for j in received.payload["jobs"]]
                print(f"the coordinator received for job {received.job_id}: "
                      f"{', '.join(names)}")
                print(json.dumps(received.payload["jobs"][0], indent=2))
            gone = not (job / "triggers.json").exists()
            print(f"triggers file {'gone (taken by the coordinator)' if gone else 'kept'}")
        return result.returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
