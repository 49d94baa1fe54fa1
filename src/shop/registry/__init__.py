"""A small Confluent-compatible Schema Registry that keeps its state in the Kafka topic ``_schemas``."""
