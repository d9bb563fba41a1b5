"""One semantic rule per module; the rule's documentation is the .md file of the same name."""
