"""Benchmarks of FreeAgentics (see /work/shared/BENCHMARKS.md); run each as a script."""
