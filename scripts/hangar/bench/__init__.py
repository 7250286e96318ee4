"""`make bench`: the benchmarks and docs/benchmarks.md."""
