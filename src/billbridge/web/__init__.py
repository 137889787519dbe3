"""The web admin of `billbridge serve`."""
