"""Plan text: each job's fields on one compact line under it."""

from __future__ import annotations

from pathlib import Path

from tests.support.engine_run import run_cli

PIPELINE = '''\
build = trigger_job("build", container_image = "golang:1.23", job_command = "make build",
                    env = {"GOOS": "linux", "CGO": "0"}, timeout = 900, priority = 5)
trigger_job("notify", depends_on = [build], condition = "always")
trigger_job("cleanup", condition = "any_failed")
trigger_job("bare")
'''


def test_each_job_shows_its_fields(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text(PIPELINE)
    result = run_cli("plan", "--src", tmp_path, cwd=tmp_path,
                        env={"REACTORCIDE_GIT_BRANCH": "main", "REACTORCIDE_GIT_COMMIT": "c"})
    assert result.code == 0, result.output
    pipeline = tmp_path / "pipeline.star"
    assert result.stdout == (
        "4 jobs in 2 stages (dry run: nothing written)\n"
        "stage 1\n"
        f"  build    ({pipeline}:1:9)\n"
        '           image golang:1.23 · command "make build" · env CGO, GOOS · timeout 900 s'
        " · priority 5\n"
        f"  cleanup  ({pipeline}:4:1)\n"
        "           condition any_failed\n"
        f"  bare     ({pipeline}:5:1)\n"
        "stage 2\n"
        f"  notify   after build [always]  ({pipeline}:3:1)\n"
    )
    assert "used:" not in result.stderr
