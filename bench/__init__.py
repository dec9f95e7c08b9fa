"""The benchmarks of issue 13 (`make bench`): see bench/README.md and docs/BENCHMARKS.md."""
