"""Event generator: realistic content-store events, Avro-encoded in the registry's wire format, to Kafka."""

from generator.producer import DeliveryReport, EventProducer, produce_events

__all__ = ["DeliveryReport", "EventProducer", "produce_events"]
