"""Event generator: a simulated content store's events, Avro-encoded in the registry's wire format, to Kafka."""

from generator.producer import DeliveryReport, EventProducer, produce_events
from generator.run import RunConfig, run_generator

__all__ = ["DeliveryReport", "EventProducer", "RunConfig", "produce_events", "run_generator"]
