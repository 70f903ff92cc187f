"""The shared core every capability builds on: settings, connections, errors, secrets.

Nothing here imports a capability (migrations, models, progress) or the CLI.
"""
