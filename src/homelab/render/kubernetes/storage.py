"""Storage from TrueNAS through democratic-csi: one release per protocol, its driver config from Vault.

democratic-csi runs as one Helm release per protocol the lab's storage classes use
(`democratic-csi-iscsi`, `democratic-csi-nfs`; their chart values are in `charts.py`). Each release
mounts its driver config from the Secret `<release>-driver-config` instead of rendering one, so the
TrueNAS API key never passes through Helm values:

- `k8s/platform/democratic-csi-secrets.yaml` (with external-secrets): one `ExternalSecret` per protocol
  that templates the driver config file (`democratic_csi_driver_config`, freenas-api-* drivers: HTTP
  API only, no SSH) with the API key read from Vault. Without external-secrets that Secret is created
  out of band (a `requires` of the release).
"""

from __future__ import annotations

from homelab.lab.refs import parse_ref
from homelab.lab.vault_access import external_secrets_on
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import WAVES, yaml_file
from homelab.render.kubernetes.external_secrets import external_secret, file_template
from homelab.render.serializers import dump_yaml

DRIVER_CONFIG_KEY = "driver-config-file.yaml"


def truenas_verified(lab) -> bool:
    """TrueNAS's certificate comes from the lab's CA (a pki.certificates entry names it) and its root is
    recorded: democratic-csi verifies it instead of allowing any certificate."""
    from homelab.lab.certificates import inventory_of, lab_ca_serves
    return bool(lab.storage.truenas) and lab_ca_serves(lab, inventory_of(lab), lab.storage.truenas.host)


def democratic_csi_on(lab) -> bool:
    return lab.platform.democratic_csi.enabled and bool(lab.storage.truenas)


def csi_protocols(lab) -> list[str]:
    """The protocols the lab's storage classes use, sorted: one democratic-csi release each."""
    return sorted({c.protocol for c in lab.storage.classes})


def csi_classes(lab, protocol: str) -> list:
    return [c for c in lab.storage.classes if c.protocol == protocol]


def csi_release(protocol: str) -> str:
    return f"democratic-csi-{protocol}"


def driver_config_secret(protocol: str) -> str:
    """The Secret the `protocol` release mounts its driver config from (key `driver-config-file.yaml`)."""
    return f"{csi_release(protocol)}-driver-config"


def democratic_csi_driver_config(lab, protocol: str, api_key_placeholder: str) -> dict:
    """The democratic-csi driver config file (freenas-api-* drivers: HTTP API only, no SSH)."""
    nas = lab.storage.truenas
    parent = nas.datasets.get(protocol, f"{nas.pool}/k8s/{protocol}").strip("/")
    config: dict = {
        "driver": f"freenas-api-{protocol}",
        "httpConnection": {
            "protocol": "https", "host": nas.host, "port": 443,
            # Verified when the lab's CA issued TrueNAS's certificate (NODE_EXTRA_CA_CERTS: charts.democratic_csi).
            "apiKey": api_key_placeholder, "allowInsecure": not truenas_verified(lab),
        },
        "zfs": {
            "datasetParentName": f"{parent}/v",
            "detachedSnapshotsDatasetParentName": f"{parent}/s",
        },
    }
    if protocol == "iscsi":
        config["zfs"].update({"zvolCompression": "", "zvolDedup": "", "zvolEnableReservation": False,
                              "zvolBlocksize": ""})
        config["iscsi"] = {
            "targetPortal": nas.iscsi_portal or f"{nas.host}:3260",
            "namePrefix": "csi-",
            "nameSuffix": f"-{lab.name}",
            "targetGroups": [{"targetGroupPortalGroup": 1, "targetGroupInitiatorGroup": 1,
                              "targetGroupAuthType": "None"}],
            "extentInsecureTpc": True,
            "extentXenCompat": False,
            "extentDisablePhysicalBlocksize": True,
            "extentBlocksize": 512,
            "extentRpm": "SSD",
            "extentAvailThreshold": 0,
        }
    else:
        config["zfs"].update({"datasetEnableQuotas": True, "datasetEnableReservation": False,
                              "datasetPermissionsMode": "0777", "datasetPermissionsUser": 0,
                              "datasetPermissionsGroup": 0})
        config["nfs"] = {
            "shareHost": nas.nfs_server or nas.host,
            "shareAlldirs": False,
            "shareAllowedHosts": [],
            "shareAllowedNetworks": list(nas.allowed_networks),
            "shareMaprootUser": "root",
            "shareMaprootGroup": "root",
            "shareMapallUser": "",
            "shareMapallGroup": "",
        }
    return config


def democratic_csi_secret(lab, protocol: str) -> dict:
    path, fields = parse_ref(lab.storage.truenas.api_key)
    fld = fields[0] if fields else "api_key"
    config = democratic_csi_driver_config(lab, protocol, "{{ .apiKey }}")
    return external_secret(
        driver_config_secret(protocol), lab.platform.democratic_csi.namespace, [("apiKey", path, fld)],
        wave=WAVES["platform-secrets"], template=file_template(DRIVER_CONFIG_KEY, dump_yaml(config)),
        description=f"democratic-csi {protocol} driver config; the TrueNAS API key comes from Vault {path}#{fld}",
    )


def files(lab) -> list[RenderedFile]:
    if not (external_secrets_on(lab) and democratic_csi_on(lab) and csi_protocols(lab)):
        return []
    return [yaml_file("k8s/platform/democratic-csi-secrets.yaml",
                      [democratic_csi_secret(lab, p) for p in csi_protocols(lab)],
                      "democratic-csi driver configs, rendered by external-secrets from Vault.")]
