"""Bundled expression presets (YAML); a data package so wheels carry the files."""
