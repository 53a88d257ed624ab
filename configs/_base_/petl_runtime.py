# Runtime settings shared by every mmpetl config (inherited next to the upstream base).
# (The delta-checkpoint and parameter-report hooks are enabled here.)
custom_hooks = []
