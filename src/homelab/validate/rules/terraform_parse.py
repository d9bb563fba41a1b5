"""Every Terraform file parses (HCL2, python-hcl2)."""

from homelab.validate.base import Finding, rule
from homelab.validate.terraform import tf_files


@rule("terraform-parse", "error", "a Terraform file does not parse as HCL", area="terraform")
def check(ctx):
    for f in tf_files(ctx):
        if f.error:
            yield Finding(f.path, f.error_line, f"not valid HCL: {f.error}", "fix the syntax (terraform init/plan fail)")
