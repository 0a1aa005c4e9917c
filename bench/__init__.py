"""The throughput benchmark (``make bench``): real services, real processes, one run.

- ``workload``: a deterministic, realistic generator of client logs (pure code);
- ``harness``: isolated settings, gunicorn and worker processes, clean-up;
- ``memory``: RSS sampling from /proc;
- ``probes``: indices prepared for a phase, and what arrived in Elasticsearch and Redis;
- ``load``: HTTP load from a few keep-alive client threads, latency percentiles;
- ``phases``: the six measurements (Elasticsearch and Redis ceilings, end to end, drain,
  API alone, single-log requests);
- ``report``: the table, machine facts and the markdown section;
- ``run``: the Click command that ties them together.
"""
