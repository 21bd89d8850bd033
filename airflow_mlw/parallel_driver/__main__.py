"""``python -m airflow_mlw.parallel_driver``."""

import sys

from airflow_mlw.parallel_driver import main

sys.exit(main())
