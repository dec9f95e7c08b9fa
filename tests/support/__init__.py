"""Test support, shared by the three layers and by bench/ (which imports only from here).

- ``db_fixtures``, ``server_fixtures``, ``client_fixtures``, ``sim_peers``: pytest plugins (loaded
  by tests/conftest.py): a database per test, the gateway and the Sales simulator on loopback, the
  Dataverse client against the simulator, a webhook receiver;
- ``sales_simulator``: Dynamics 365 Sales (Dataverse) on a real port, also runnable on its own;
- ``order_harness``: the gateway and the simulator wired as in production;
- ``builders``: Sales records, conversion inputs, fixture loaders, documents and inbox rows;
- ``dataverse_payloads``: webhook bodies in Sales' JSON shape; ``helpers``: an HTTP client for the
  gateway and the CLI; ``nginx``: nginx in front of the gateway; ``odata_tables``: made-up tables
  for the generic OData layer.
"""
