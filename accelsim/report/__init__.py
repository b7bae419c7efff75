"""Reports: terminal tables (tables), paper figures (plots) and sweep tables (sweep)."""
