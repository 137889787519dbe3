"""billbridge: export Microsoft cloud billing into Autotask PSA."""

__version__ = "0.1.0"
