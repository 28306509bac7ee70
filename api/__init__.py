"""StreamPulse REST API (FastAPI): versioned, API-key protected, read from PostgreSQL."""
