"""DynamoDB's provisioned throughput emulated: the model, the metering and the gateway."""
