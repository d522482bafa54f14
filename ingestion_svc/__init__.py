"""Ingestion service: raw platform rows → CausalMarketingData, streamed, validated, durable in
memory; the experiment registry, the calendar and the external-factor registry."""
