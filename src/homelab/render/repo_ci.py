"""What keeps the rendered repository honest on every push (used by render/repo.py, not a renderer itself):

- `.github/workflows/validate.yml`: `homelab render --check`, `homelab charts pull`, `homelab validate`
  (SARIF uploaded to code scanning) and `homelab secrets scan` over the whole history (checkout with
  `fetch-depth: 0`, or the history scan sees one commit);
- `renovate.json`: Renovate custom regex managers that update the versions *in homelab.yaml itself* — Helm
  charts (`chart: {repo, name, version}`, datasource helm), container images (`image: {repository, tag}`,
  datasource docker) and the K3s version (`v1.33.4+k3s1`, GitHub releases of k3s-io/k3s) — then re-render
  (postUpgradeTasks, on self-hosted Renovate that allows the command). Renovate's own terraform and
  ansible-galaxy managers are off for the rendered `tf/` and `ansible/`: those pins are homelab's
  (render/terraform.py, render/ansible.py) and a PR against a generated file fails `render --check`.
- pre-commit hooks for validate and the secret scan (the rendered `.pre-commit-config.yaml`).
(docs.renovatebot.com: modules/manager/regex — customManagers, managerFilePatterns in /regex/ form,
matchStrings named groups depName/currentValue/registryUrl, datasourceTemplate, versioningTemplate.)
"""

from __future__ import annotations

WORKFLOW = ".github/workflows/validate.yml"
RENOVATE = "renovate.json"
# GitHub Actions pinned to major versions (their tags).
CHECKOUT = "actions/checkout@v4"
SETUP_PYTHON = "actions/setup-python@v5"
CACHE = "actions/cache@v4"
UPLOAD_SARIF = "github/codeql-action/upload-sarif@v3"

# Renovate regexes (RE2 / ECMAScript syntax). Flow style as homelab writes and the reference lab uses it,
# block style as editors reformat it; keys in the model's order (repo, name, version / repository, tag).
_Q = r"[\"']?"
_EOL = r"[ \t]*(?:#[^\n]*)?\n"  # the rest of a block-style line: spaces and an optional comment (editors move them)
CHART_FLOW = (r"chart:\s*\{\s*repo:\s*" + _Q + r"(?<registryUrl>[^\"'\s,}]+)" + _Q + r"\s*,\s*name:\s*" + _Q
              + r"(?<depName>[^\"'\s,}]+)" + _Q + r"\s*,\s*version:\s*" + _Q + r"(?<currentValue>[^\"'\s,}]+)" + _Q)
CHART_BLOCK = (r"chart:" + _EOL + r"\s+repo:\s*" + _Q + r"(?<registryUrl>[^\"'\s]+)" + _Q + _EOL + r"\s+name:\s*" + _Q
               + r"(?<depName>[^\"'\s]+)" + _Q + _EOL + r"\s+version:\s*" + _Q + r"(?<currentValue>[^\"'\s]+)" + _Q)
IMAGE_FLOW = (r"image:\s*\{\s*repository:\s*" + _Q + r"(?<depName>[^\"'\s,}]+)" + _Q + r"\s*,\s*tag:\s*" + _Q
              + r"(?<currentValue>[^\"'\s,}]+)" + _Q)
IMAGE_BLOCK = (r"image:" + _EOL + r"\s+repository:\s*" + _Q + r"(?<depName>[^\"'\s]+)" + _Q + _EOL + r"\s+tag:\s*"
               + _Q + r"(?<currentValue>[^\"'\s]+)" + _Q)
K3S_VERSION = r"version:\s*" + _Q + r"(?<currentValue>v\d+\.\d+\.\d+\+k3s\d+)" + _Q
K3S_VERSIONING = r"regex:^v(?<major>\d+)\.(?<minor>\d+)\.(?<patch>\d+)\+k3s(?<build>\d+)$"
LAB_FILES = [r"/(^|/)homelab\.ya?ml$/"]


def workflow() -> dict:
    steps = [
        {"uses": CHECKOUT, "with": {"fetch-depth": 0}},  # the whole history: `secrets scan` reads every commit
        {"uses": SETUP_PYTHON, "with": {"python-version": "3.11"}},
        {"name": "Install homelab", "run": "python -m pip install homelab"},
        {"name": "Rendered files match homelab.yaml", "run": "homelab render --check homelab.yaml"},
        {"uses": CACHE, "with": {"path": ".homelab/charts", "key": "charts-${{ hashFiles('homelab.yaml') }}"}},
        {"name": "Pull the charts (verified by digest)", "run": "homelab charts pull homelab.yaml"},
        {"name": "Validate", "run": "homelab validate . --format sarif > validate.sarif || status=$?\n"
                                    "homelab validate .\nexit ${status:-0}\n"},
        {"name": "Upload findings to code scanning", "if": "always()", "uses": UPLOAD_SARIF,
         "with": {"sarif_file": "validate.sarif", "category": "homelab-validate"}},
        {"name": "Secrets in the tree and the whole history", "run": "homelab secrets scan ."},
    ]
    return {
        "name": "validate",
        "on": {"push": None, "pull_request": None},
        "permissions": {"contents": "read", "security-events": "write"},
        "jobs": {"validate": {"runs-on": "ubuntu-latest", "steps": steps}},
    }


def renovate() -> dict:
    def manager(description: str, strings: list[str], datasource: str, **extra) -> dict:
        return {"customType": "regex", "description": description, "managerFilePatterns": LAB_FILES,
                "matchStrings": strings, "datasourceTemplate": datasource, **extra}

    return {
        "$schema": "https://docs.renovatebot.com/renovate-schema.json",
        "extends": ["config:recommended"],
        "customManagers": [
            manager("Helm charts of the platform and the apps in homelab.yaml", [CHART_FLOW, CHART_BLOCK], "helm"),
            manager("Container images of the apps in homelab.yaml", [IMAGE_FLOW, IMAGE_BLOCK], "docker"),
            manager("The K3s version in homelab.yaml", [K3S_VERSION], "github-releases",
                    depNameTemplate="k3s-io/k3s", versioningTemplate=K3S_VERSIONING),
        ],
        "terraform": {"enabled": False, "description": "tf/ is rendered: provider pins come with homelab"},
        "ansible-galaxy": {"enabled": False, "description": "ansible/ is rendered: collection pins come with homelab"},
        "postUpgradeTasks": {"commands": ["homelab render homelab.yaml"], "fileFilters": ["**/*"],
                             "executionMode": "branch"},
        "packageRules": [{"matchManagers": ["custom.regex"], "commitMessageTopic": "{{depName}} in homelab.yaml"}],
    }


def pre_commit_hooks() -> list[dict]:
    return [
        {"id": "homelab-validate", "name": "homelab validate (charts templated, schemas, policies)",
         "entry": "homelab validate .", "language": "system", "pass_filenames": False, "always_run": True},
        {"id": "homelab-secrets-scan", "name": "homelab secrets scan (working tree)",
         "entry": "homelab secrets scan . --no-history", "language": "system", "pass_filenames": False,
         "always_run": True},
    ]
