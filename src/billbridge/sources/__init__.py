"""Readers that turn outside files into domain objects, with `FILE:LINE: column: problem` errors."""
