"""One command each, printing figures; see README "Benchmarks"."""
