"""ksrpy test suite."""
