"""Llm service."""
