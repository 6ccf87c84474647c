"""The scholarly_build test suite."""
