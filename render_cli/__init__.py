"""``avatar-render``: the command line above both sides (the API and the workers) and the
developer tools it uses (a local Redis, managed child processes, the demo).

Nothing imports this package; it is the only one that imports both sides.
"""
