"""Documents of a template's output are split as Helm splits them (pkg/releaseutil.SplitManifests), not as a
YAML stream: cert-manager v1.21.1's rbac.yaml trims the newline after `---` ("---# Permission to approve ..."),
which a YAML parser rejects and Helm accepts."""

from homelab.charts.template import parse_manifests


def test_a_separator_glued_to_a_comment_starts_a_new_document():
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n\n---# Permission to approve\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n\n---\nkind: List\nitems:\n"
            "  - {apiVersion: v1, kind: Secret, metadata: {name: c}}\n")
    objects = parse_manifests({"chart/templates/x.yaml": text, "chart/templates/NOTES.txt": "not: [yaml"})
    assert [(o["kind"], o["metadata"]["name"]) for _, o in objects] == [
        ("ConfigMap", "a"), ("ConfigMap", "b"), ("Secret", "c")]
