"""Ingestion service: raw platform rows → CausalMarketingData; experiment registry; calendar."""
