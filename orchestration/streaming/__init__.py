"""Streaming domain: the events topic, the Flink job and the real-time tables it writes."""
