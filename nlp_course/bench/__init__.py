"""Benchmarks: ``python -m nlp_course.bench.<name>`` prints our timings beside the library twin's.

Speed is measured here, never in timed tests. Each module times our
implementation and its library twin in the same process and prints the ratio.
"""
