"""Local state (`.homelab/state.db`): what was applied, a serial, history and the apply lock."""
