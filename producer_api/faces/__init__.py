"""Faces in portraits: found once at registration, so a render never meets a faceless portrait.

``load_face_detector`` picks the detector (LivePortrait's ONNX bundle when it is
installed, a bundled LBP cascade otherwise); ``locate_face`` turns its largest face
into the ``FaceRegion`` stored with the character.
"""
