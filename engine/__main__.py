"""`python -m engine`: the ingest job's entry point."""

from engine.cli.process import end_process, open_standard_streams

open_standard_streams()
from engine.cli.main import main  # noqa: E402  (after the streams exist)

end_process(main())
