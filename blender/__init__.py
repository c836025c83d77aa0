"""Blender glue below the operators: one module per Blender concept (mesh, material, camera,
scene, keyframes, render), the extension's folders and preferences, and the headless batch.

Operators and panels call into here; nothing here defines an Operator or a Panel, and the
heavy pipeline imports happen inside the functions that need them.
"""
