"""Benchmarks and load test: where the system stands on a dataset of realistic size.

``python -m benchmarks --help`` lists the commands; ``make bench`` and
``make loadtest`` run them end to end on their own database and Redis dbs.
"""
