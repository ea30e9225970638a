"""Tests for the pipeline engine."""
