"""Regenerate kuberay-v1.schema.json from KubeRay's CRDs (the test reads only the JSON).

    python tests/docs/kuberay_crds/vendor.py /path/to/kuberay.git v1.7.0

reads ray-operator/config/crd/bases/ray.io_rayclusters.yaml and ray.io_rayjobs.yaml at that revision
(`git --git-dir=... show REV:path`), keeps the openAPIV3Schema of version v1 of each, unchanged except:

* `status` is dropped (a manifest never sets it);
* subtrees that are the same object in several places are stored once under `$defs` and referenced
  (`RayClusterSpec`: RayCluster.spec and RayJob.spec.rayClusterSpec; `PodTemplateSpec`: the head's, every
  worker group's and the RayJob submitter's pod template; `Container`: containers and initContainers);
  the script checks they are identical before it merges them;
* the subtrees in PRUNED, which the manifests do not use, are replaced by a schema that keeps only their
  `type` and carries `"x-mlops-pruned": true`. The test refuses a manifest that puts anything there:
  vendor the subtree back (remove it from PRUNED) before a manifest uses it.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "kuberay-v1.schema.json"
CRDS = {"RayCluster": "ray-operator/config/crd/bases/ray.io_rayclusters.yaml",
        "RayJob": "ray-operator/config/crd/bases/ray.io_rayjobs.yaml"}
# Paths inside $defs (property names, "items" for an array's element) whose schema is pruned.
KEPT_VOLUME_SOURCES = {"name", "persistentVolumeClaim", "emptyDir", "secret", "configMap", "hostPath", "nfs",
                       "csi", "projected", "downwardAPI", "ephemeral"}
PRUNED = [("PodTemplateSpec", "spec", "affinity"),  # nodeSelector and tolerations are kept
          ("PodTemplateSpec", "spec", "ephemeralContainers"),
          ("RayClusterSpec", "networkPolicy")]  # alpha, behind a KubeRay feature gate


def crd_schema(git_dir: str, rev: str, path: str) -> dict:
    text = subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{path}"], check=True, capture_output=True,
                          text=True).stdout
    crd = yaml.safe_load(text)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def node(schema: dict, *path: str) -> dict:
    for key in path:
        schema = schema["items"] if key == "items" else schema["properties"][key]
    return schema


def hoist(defs: dict, name: str, places: list[tuple[dict, tuple[str, ...]]]) -> None:
    """Store the subtree found at every place once, as $defs[name]; each place becomes a $ref to it."""
    found = [node(root, *path) for root, path in places]
    for other, (_, path) in zip(found[1:], places[1:]):
        if other != found[0]:
            raise SystemExit(f"{name}: the subtree at {'.'.join(path)} differs from the first; vendor it by hand")
    defs[name] = copy.deepcopy(found[0])
    for subtree in found:
        subtree.clear()
        subtree["$ref"] = f"#/$defs/{name}"


def prune(schema: dict) -> None:
    """Keep only the type of a subtree the manifests do not use, marked so the test can refuse its use."""
    kept = {"type": schema["type"]} if "type" in schema else {}
    schema.clear()
    schema.update(kept, **{"x-mlops-pruned": True})


def vendor(git_dir: str, rev: str) -> dict:
    kinds = {kind: crd_schema(git_dir, rev, path) for kind, path in CRDS.items()}
    for schema in kinds.values():
        schema["properties"].pop("status", None)
    defs: dict = {}
    cluster, job = kinds["RayCluster"], kinds["RayJob"]
    hoist(defs, "RayClusterSpec", [(cluster, ("spec",)), (job, ("spec", "rayClusterSpec"))])
    spec = defs["RayClusterSpec"]
    hoist(defs, "PodTemplateSpec", [(spec, ("headGroupSpec", "template")),
                                    (spec, ("workerGroupSpecs", "items", "template")),
                                    (job, ("spec", "submitterPodTemplate"))])
    pod = defs["PodTemplateSpec"]
    hoist(defs, "Container", [(pod, ("spec", "containers", "items")), (pod, ("spec", "initContainers", "items"))])
    for name, *path in PRUNED:
        prune(node(defs[name], *path))
    for source, schema in node(pod, "spec", "volumes", "items")["properties"].items():
        if source not in KEPT_VOLUME_SOURCES:
            prune(schema)
    return {"$comment": f"KubeRay {rev}: {', '.join(CRDS.values())}, openAPIV3Schema of v1, trimmed by "
                        "tests/docs/kuberay_crds/vendor.py (see README.md). Apache-2.0, (c) the KubeRay authors.",
            "$defs": defs, "kinds": kinds}


if __name__ == "__main__":
    git_dir, rev = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "HEAD"
    OUT.write_text(json.dumps(vendor(git_dir, rev), indent=1, sort_keys=True) + "\n")
    print(f"{OUT}: {OUT.stat().st_size} bytes")
