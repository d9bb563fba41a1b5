"""The terraform engine: `terraform` (or `tofu`) run per rendered environment `tf/<env>/`.

- `engine`: `TerraformEngine` — binary discovery, init/plan/show/apply per environment, facts from state;
- `credentials`: secrets as `TF_VAR_<name>` environment variables only, where Terraform keeps them, and
  the private plan-file directory;
- `show`: `terraform show -json` read into our Changes and addresses, sensitive values stripped;
- `vm_facts`: a `proxmox_vm_qemu` in state, in the planner's vocabulary.
"""

from homelab.engines.terraform.credentials import declared_variables
from homelab.engines.terraform.engine import TerraformEngine

__all__ = ["TerraformEngine", "declared_variables"]
