"""A run given its own limits (the Python API's `RunOptions(limits=...)`) records those
limits, so that its transcript replays under the limits the run had."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from engine.core.diagnostics import PipelineFailed
from engine.core.limits import Limits
from engine.run.ingest import RunOptions, run
from engine.run.inputs import snapshot
from engine.run.recorder import Recorder
from engine.transcripts import transcript
from engine.transcripts.replay import drift, replay


def test_a_run_with_its_own_limits_replays_under_them(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text('for i in range(4):\n    trigger_job("j%d" % i)\n',
                                       encoding="utf-8")
    inputs = snapshot(src=src, pipeline=None, triggers_file=tmp_path / "triggers.json",
                      env={}, token=None)
    options = RunOptions(dry_run=True, limits=Limits(max_jobs=3))
    recorder = Recorder()
    with pytest.raises(PipelineFailed) as failed:
        run(inputs, options, io.StringIO(), recorder=recorder)
    assert failed.value.diagnostics[0].message == "job limit of 3 jobs exceeded"

    built = transcript.build(recorder, inputs, options, document=None, failure=failed.value)
    data = transcript.check(json.loads(transcript.dumps(built)), "run.json")
    assert data["policy"]["values"]["limits"]["max_jobs"] == 3
    assert drift(data, replay(data, "run.json", io.StringIO())) == ""
