"""Benchmarks whose figures compare across runs: ratios measured in alternating rounds
(``rounds``), saved runs that say what they measured and where (``describe``), read back from
pytest-benchmark's storage (``runs``), compared, gated (``compare``) and drawn (``chart``)."""
