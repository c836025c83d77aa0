"""Lifting to a layered depth image (the paper's section 4): depth preprocessing (ramp
snapping, weighted median, cuts), the frame margin, how far each edge must grow for the
camera moves, and the layers themselves.
"""
