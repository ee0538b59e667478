"""The webhook dispatcher: reads the tenants' event logs, delivers signed webhooks.

It imports ``render_core`` only (never the API, never the workers), and nothing but the
command line imports it.
"""
