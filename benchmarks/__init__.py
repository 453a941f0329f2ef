"""Benchmarks of FreeAgentics, one script per workload (B1 engine, B2 simulation, B3 database,
B4 WebSocket, dashboard frame time); run each as a script with ``--help``."""
