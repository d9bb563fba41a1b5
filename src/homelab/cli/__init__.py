"""The command line: one short module per command or group; the only place that prints."""
