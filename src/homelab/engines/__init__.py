"""Thin adapters over the real tools. Engines read facts and execute changes they are handed;
they never decide what to change (that is the plan's job)."""
