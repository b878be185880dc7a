"""The pieces benchmarks/run.py, lifecycle.py, store.py and workloads.py (and histories.py,
cluster.py, filter_server_time.py) share, so each script holds only its own workloads and its
own report.

    servers  the Redis Stack servers and the incumbent's interpreter from ../shared/anchor,
             a throwaway PostgreSQL, FLUSHALL, what a report calls the server
    workers  the drivers' common flags; worker processes (one JSON line back, or the error it
             died of; several at once; one on another tree's src/); the timed,
             error-catching sections inside a worker
    monitor  commands per operation, counted by the server (MONITOR, INFO commandstats)
    stats    medians and medians of per-run ratios, and the number formats of the reports
    tables   markdown table rows, the mode header (command, date, commit, load) and the
             results file a report is rendered from
    plots    run.py's two figures (ratio bars, step cost against history)

The scripts import it as `harness` (benchmarks/ is on sys.path when a script there runs).
workloads.py and the lifecycle/store workers also run in the incumbent's venv: nothing here
imports a Redis package at module level, only the standard library.
"""
