"""``python -m airflow_mlw.cli``: the ``mlw`` command."""

import sys

from airflow_mlw.cli import main

sys.exit(main())
