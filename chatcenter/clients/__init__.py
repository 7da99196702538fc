"""Outside services: the WB seller API, DeepSeek, and the shared Redis rate limiter."""
