"""Options and arguments the commands share, in one place (a command module never imports another)."""

from __future__ import annotations

import typer

LabArg = typer.Argument("homelab.yaml", help="The lab file (or a directory holding homelab.yaml).")
LabOption = typer.Option("homelab.yaml", "--lab", "-l", help="The lab file.")
FileOption = typer.Option("homelab.yaml", "--lab", "-l", "--file", help="The lab file.")
FormatOption = typer.Option("text", "--format", "-f", help="Output format: text or json.")
StateDirOption = typer.Option(None, "--state-dir", help="State directory. Default: $HOMELAB_STATE_DIR or ./.homelab.")
WorkdirOption = typer.Option(None, "--out", help="The rendered repository. Default: the lab file's directory.")
RenderOutOption = typer.Option(None, "--out", "-o", help="Render into this directory (default: the lab file's directory).")
YesOption = typer.Option(False, "-y", "--yes", help="Do not ask for confirmation.")
ParallelismOption = typer.Option(1, "--parallelism", "-p", min=1, max=64,
                                 help="Independent resources of a batch applied at once.")
BreakLockOption = typer.Option(False, "--break-lock", help="Break a stale state lock first.")
TargetOption = typer.Option(None, "--target", "-t", help="Only these resources: an address or a glob "
                            "(k3s_agent.kube07, 'vault_*'); repeatable. Dependencies are not added.")
PruneOption = typer.Option(False, "--prune", help="Also delete live resources the lab does not declare and "
                           "homelab never recorded (e.g. Vault policies and users made by hand).")
RenderEditOption = typer.Option(True, "--render/--no-render", help="Re-render after the edit.")
EditOutOption = typer.Option(None, "--out", help="Where to render. Default: the lab file's directory.")
VerboseOption = typer.Option(False, "--verbose", "-v", help="Also list unchanged resources and attributes.")

# Vault: where it is and who we are there (see engines/vault/target.py for the precedence)
AddressOption = typer.Option(None, "--address", help="Vault URL, or 'embedded' (overrides vault.address).")
EmbeddedOption = typer.Option(False, "--embedded", help="Use the embedded OpenBao whatever vault.address says.")
KeysOption = typer.Option(None, "--keys-file", help="Keys file (default <state dir>/vault/init-keys.json).")
UserOption = typer.Option(None, "--user", help="Log in as this userpass user (password prompted, never an argument).")

# K3s day-2 commands
TokenFromOption = typer.Option("first-server", "--token-from",
                               help="Join token: read from the first server (first-server) or from Vault (vault).")
