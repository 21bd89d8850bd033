"""One step (or script run) on a worker, whatever the compute: typed inputs (``inputs``), the reuse
key with its document and explanation (``reuse``), outputs committed atomically (``outputs``), the
script's working copy and process (``process``), and every run-row write (``records``).

Operators (one level up) only choose the compute; what a run does and records is decided here.
"""
