"""The listener: consumes log events from RabbitMQ and stores them through the logger's HTTP API."""
