"""Kafka publishing and consuming with the platform's delivery guarantees."""
