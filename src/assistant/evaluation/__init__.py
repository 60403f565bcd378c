"""Benchmarks: PIAF/XQuAD and real document collections."""
