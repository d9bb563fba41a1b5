"""A VM's Terraform environment must be one of `environments`."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import did_you_mean, known_list


@rule("unknown-environment", "error", "VM environment is not listed in `environments`")
def check(doc):
    envs = list(doc.lab.environments)
    for i, vm in enumerate(doc.lab.vms):
        if vm.env not in envs:
            yield Finding(("vms", i, "env"), f"VM {vm.name}: unknown environment {vm.env!r}",
                          did_you_mean(vm.env, envs, f"environments: {known_list(envs)}"))
