"""Surfacing service."""
