"""Runtime pieces every lab service shares: config, JSON logs, the JSON envelope, serving, AMQP topology."""
