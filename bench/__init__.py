"""The benchmark of bench/README.md: how fast the service is, measured against a bare echo."""
