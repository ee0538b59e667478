"""LivePortrait inference in our own PyTorch: the only package that imports torch."""
