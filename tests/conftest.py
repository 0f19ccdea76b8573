"""Shared fixtures. Integration fixtures (embedded broker etc.) live in tests/fixtures/."""
