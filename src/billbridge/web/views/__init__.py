"""The pages of the web admin, one module per area; each exposes `routes`."""
