"""A service whose only purpose is its lock."""
