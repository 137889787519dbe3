"""Export orchestration: due reports -> desired state -> Autotask's actual state -> plan -> apply.

The rules live in `billbridge.domain`, Autotask's HTTP in `billbridge.autotask`; this package
only connects them to the store and records what happened.
"""
