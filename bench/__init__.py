"""Load benchmarks: seeded data, five targets, wrk; run with ``make bench``.

Not part of ``make test``: timings are measured and reported here, never asserted.
"""
