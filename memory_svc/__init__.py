"""Memory service."""
