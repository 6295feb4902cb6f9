"""``ddbspec matrix``: which engine gets which DynamoDB pattern right.

Every spec runs on every engine that can start here, each engine in a pytest run of its own
(``columns``, ``runs``); each (exercise, engine) cell gets one verdict from that run's JUnit
report (``cells``); the matrix is written as a table, Markdown, JSON and a PNG (``write``),
and two matrices are compared (``compare``).
"""
