"""A small Confluent-compatible Schema Registry, its state kept in the Kafka topic ``_schemas``."""
