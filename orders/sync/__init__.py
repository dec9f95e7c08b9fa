"""Synchronisation with Dynamics 365 Sales: BC's engine and its jobs (docs/sync.md).

Pure decisions: model.py, decide.py, transfer.py, transform.py, filters.py, sales_rules.py,
defaults.py. I/O: store.py (our tables), bc_records.py (BC's records), sales_adapter.py (the
Dataverse Web API), hooks.py (table-specific Sales reads and writes). Running: engine.py (one
mapping), item_availability.py, jobs.py (job queue entries), scheduler.py (inside the worker).
Entry points: api.py.
"""
