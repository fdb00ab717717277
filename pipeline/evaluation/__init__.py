"""Evaluations of the pipeline's stages against real data, one module per stage."""
