"""Day-2 workflows, one module per workflow."""
