"""The deployment files, checked without a Docker engine or any service.

``docker-compose.yml``, ``Dockerfile.api``/``Dockerfile.worker``, ``gunicorn.conf.py`` and
``kibana/saved_objects.ndjson`` are read as files: what they name must exist in the code (files,
modules, CLI commands, mapped fields), and the start order, ports, scaling and durability
settings the README promises must be there.
"""
