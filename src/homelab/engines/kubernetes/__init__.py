"""The kubernetes engine: server-side apply of the rendered manifests over plain HTTPS; ArgoCD status for facts.

- `kubeconfig`: the server, TLS settings and credentials of one kubeconfig context (`load_kubeconfig`);
- `client`: a small REST client (discovery, server-side apply, get, delete; Status errors);
- `manifests`: reading rendered YAML into objects, and the order they are applied in;
- `rendered`: which rendered files belong to which planner address (and the ArgoCD install manifest);
- `argocd_status`: an Application's `.status` as plan facts;
- `engine`: `KubernetesEngine`, the adapter the plan and apply use.
"""

from homelab.engines.kubernetes.engine import KubernetesEngine
from homelab.engines.kubernetes.kubeconfig import load_kubeconfig

__all__ = ["KubernetesEngine", "load_kubeconfig"]
