"""Every argument and block of the resources, data sources and providers homelab knows is in the pinned
provider version's schema (validate/terraform_schema.py: data from the providers' sources)."""

from homelab.validate import terraform_schema as schema
from homelab.validate.base import Finding, rule
from homelab.validate.terraform import blocks, proxmox_pin, tf_files


@rule("terraform-provider-schema", "error",
      "a Terraform block uses an argument the pinned provider version does not have", area="terraform")
def check(ctx):
    files = [f for f in tf_files(ctx) if f.data is not None]
    for f in files:
        directory = f.path.rpartition("/")[0]
        pin = proxmox_pin(files, directory) or proxmox_pin(files, "tf/modules/proxmox_vm") or ""
        rc = schema.proxmox_rc(pin)
        for kind, table in (("resource", schema.RESOURCES), ("data", schema.DATA_SOURCES),
                            ("provider", schema.PROVIDERS)):
            for labels, body in blocks(f, kind):
                make = table.get(labels[0])
                if make is None:
                    continue
                start = f.block_line(kind, *labels)
                for problem in schema.violations(body, make(rc), ".".join(labels)):
                    name = problem.split("'")[1] if "'" in problem else ""
                    yield Finding(f.path, f.arg_line(start, name) if name else start,
                                  f"{problem} (provider pinned at {pin or 'an unknown version'})",
                                  "use the argument the provider version documents (terraform validate fails on it)")
