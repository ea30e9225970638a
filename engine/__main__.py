"""`python -m engine`: the ingest job's entry point."""

from engine.cli.main import main

raise SystemExit(main())
