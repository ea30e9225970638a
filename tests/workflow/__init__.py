"""Tests of the Python workflow API (`workflow`)."""
