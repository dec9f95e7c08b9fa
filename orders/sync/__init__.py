"""BC's synchronisation with Dynamics 365 Sales: the engine, its jobs, coupling tools and the log."""
