"""HyperDrive: hyperparameter sweeps of one script (Azure's ``azureml.train.hyperdrive``).

Definitions (``parameters``, ``sampling``, ``policies``, ``config``) do no I/O; ``controller``
runs a sweep, ``trials`` starts its trials, ``run`` is the sweep's run. Users import the Azure
path, ``airflow_mlw.train.hyperdrive``.
"""
