"""Meshing (the paper's section 6): the LDI mesh with its texture atlas, simplification,
quads, the single-layer baselines, and MeshData, the pipeline's result.
"""
