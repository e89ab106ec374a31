"""The rule engine: rule specs from rules/ (YAML), evaluators on plain facts; no Flask, no DB."""
