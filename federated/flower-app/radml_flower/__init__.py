"""radml sites in a Flower federation (see ../pyproject.toml)."""
