"""Pure domain values: money, periods, categories, regions, fee items. No Flask, no database."""
