"""Action Units: the catalogue, the `--au` syntax, presets and timelines."""
