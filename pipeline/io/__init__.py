"""Reading photos and depth maps, camera intrinsics from EXIF, writing meshes: the
pipeline's file formats and the one atomic-write helper.
"""
