"""Live view: a render's frames over WebRTC (WHEP) as they are stored, with aiortc.

``sessions`` holds the peer connections of this process, ``feed`` follows the render's
events, ``track`` plays its frames, ``offers`` checks offers, ``ice`` is how peers reach us.
"""
