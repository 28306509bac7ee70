"""StreamPulse shared package: settings, database helpers and the local stack CLI."""
