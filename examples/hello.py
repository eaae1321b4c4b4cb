# The smallest workload: one line on stdout. Used by the cold-start benchmark
# (benchmarks/bench_runner.sh) and the validator example.
print("hello from the sandbox")
