"""shop: cart and orders services over Kafka, with Avro events through a Schema Registry."""
