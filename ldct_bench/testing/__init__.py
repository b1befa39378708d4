"""Stand-ins for tests, benchmarks and dry runs: a local OpenAI-compatible server and phantom images."""
