"""`python -m bench`: every speed and accuracy claim measured side by side, written to BENCHMARKS.md."""
