"""Helpers shared by the tests: fake coordinator, TLS material, git repositories."""
