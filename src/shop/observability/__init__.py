"""Where the service is watched from: logging set-up, request ids and request logs, metrics."""
