"""`python -m engine`: the ingest job's entry point."""

from engine.cli import main

raise SystemExit(main())
