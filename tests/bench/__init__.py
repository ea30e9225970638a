"""Start-up and scale benchmarks, run by `just bench` (never collected by pytest)."""
