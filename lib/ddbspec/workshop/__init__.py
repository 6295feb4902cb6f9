"""The workshop's patterns as plain boto3 code, what the specs read like."""
