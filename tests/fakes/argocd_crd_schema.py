"""JSON Schemas (Draft 7) for the parts of the Argo CD `Application` and `AppProject` CRDs we render.

What of the real API this reproduces: the `openAPIV3Schema` of
`argoproj/argo-cd` `manifests/crds/application-crd.yaml` and `manifests/crds/appproject-crd.yaml`
(commit 37ee0097, v3.5.x), as summarised in `shared/reference/platform-facts.md` §4.1/§4.3:

- Application: top level requires `metadata` and `spec`; `spec` requires `destination` and `project`;
  every `spec.source` / `spec.sources[]` item requires `repoURL`; `destination` has `server`, `name`,
  `namespace`; `syncPolicy` has `automated{enabled,prune,selfHeal,allowEmpty}`, `syncOptions[]`,
  `retry{limit,backoff{duration,factor,maxDuration}}`, `managedNamespaceMetadata`; `info[]` items require
  `name` and `value`.
- AppProject: requires `metadata` and `spec` (no required sub-fields); `clusterResourceWhitelist[]` /
  `namespaceResourceBlacklist[]` / ... items require `group` and `kind`.

Deliberately STRICTER than the CRD: where every field of an object is listed below,
`additionalProperties: false` is set, so that a misspelt key (`valuesFiles`, `selfheal`) fails here.
(The API server would silently prune it, and the app would deploy without its values.) The field lists
come from the CRD's properties; none of them is invented.

What the CRD does NOT enforce (the Argo CD docs do, so the tests check them separately): `$values` only at
the start of a valueFiles entry and a `ref: values` source present; a `ref` source has no `chart`;
`destination` has `server` or `name`.
"""

from __future__ import annotations

_STRING_LIST = {"type": "array", "items": {"type": "string"}}

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": _STRING_LIST,
    },
}

_HELM = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "valueFiles": _STRING_LIST,
        "values": {"type": "string"},
        "valuesObject": {"type": "object"},
        "parameters": {"type": "array", "items": {"type": "object"}},
        "fileParameters": {"type": "array", "items": {"type": "object"}},
        "releaseName": {"type": "string"},
        "version": {"type": "string"},
        "ignoreMissingValueFiles": {"type": "boolean"},
        "skipCrds": {"type": "boolean"},
        "skipSchemaValidation": {"type": "boolean"},
        "skipTests": {"type": "boolean"},
        "passCredentials": {"type": "boolean"},
        "namespace": {"type": "string"},
        "kubeVersion": {"type": "string"},
        "apiVersions": _STRING_LIST,
    },
}

_DIRECTORY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "recurse": {"type": "boolean"},
        "include": {"type": "string"},
        "exclude": {"type": "string"},
        "jsonnet": {"type": "object"},
    },
}

_SOURCE = {
    "type": "object",
    "required": ["repoURL"],
    "additionalProperties": False,
    "properties": {
        "repoURL": {"type": "string"},
        "targetRevision": {"type": "string"},
        "path": {"type": "string"},
        "chart": {"type": "string"},
        "ref": {"type": "string"},
        "name": {"type": "string"},
        "helm": _HELM,
        "kustomize": {"type": "object"},
        "directory": _DIRECTORY,
        "plugin": {"type": "object"},
    },
}

_DESTINATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"server": {"type": "string"}, "name": {"type": "string"}, "namespace": {"type": "string"}},
}

_SYNC_POLICY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "automated": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "prune": {"type": "boolean"},
                "selfHeal": {"type": "boolean"},
                "allowEmpty": {"type": "boolean"},
            },
        },
        "syncOptions": _STRING_LIST,
        "retry": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "limit": {"type": "integer"},
                "backoff": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "duration": {"type": "string"},
                        "factor": {"type": "integer"},
                        "maxDuration": {"type": "string"},
                    },
                },
            },
        },
        "managedNamespaceMetadata": {"type": "object"},
    },
}

APPLICATION_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "Application"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["destination", "project"],
            "additionalProperties": False,
            "properties": {
                "project": {"type": "string"},
                "source": _SOURCE,
                "sources": {"type": "array", "items": _SOURCE},
                "destination": _DESTINATION,
                "syncPolicy": _SYNC_POLICY,
                "ignoreDifferences": {"type": "array", "items": {"type": "object"}},
                "info": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "value"],
                        "additionalProperties": False,
                        "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                    },
                },
                "revisionHistoryLimit": {"type": "integer"},
                "sourceHydrator": {"type": "object"},
            },
        },
    },
}

_GROUP_KIND = {
    "type": "object",
    "required": ["group", "kind"],
    "properties": {"group": {"type": "string"}, "kind": {"type": "string"}},
}

APPPROJECT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "AppProject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "sourceRepos": _STRING_LIST,
                "destinations": {"type": "array", "items": _DESTINATION},
                "clusterResourceWhitelist": {"type": "array", "items": _GROUP_KIND},
                "clusterResourceBlacklist": {"type": "array", "items": _GROUP_KIND},
                "namespaceResourceWhitelist": {"type": "array", "items": _GROUP_KIND},
                "namespaceResourceBlacklist": {"type": "array", "items": _GROUP_KIND},
                "roles": {"type": "array", "items": {"type": "object"}},
                "syncWindows": {"type": "array", "items": {"type": "object"}},
                "orphanedResources": {"type": "object"},
                "sourceNamespaces": _STRING_LIST,
                "signatureKeys": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
}
