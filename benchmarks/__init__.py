"""palaver benchmarks: fan-out throughput/latency/CPU and memory per idle connection.

Run ``python -m benchmarks`` (or ``--quick`` for a smoke run); see docs/benchmarks.md.
"""
