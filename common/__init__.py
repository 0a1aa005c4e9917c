"""Code shared by the API and the worker: settings, the log contract, document
building, and the narrow adapters around Redis and Elasticsearch."""
