"""The manifests that docs/cluster.md ships (docs/cluster/) are valid for what reads them and keep what the
page promises.

* The KubeRay ones (RayCluster, RayJob) validate against KubeRay's CRD schema (the openAPIV3Schema of ray.io/v1,
  vendored in tests/docs/kuberay_crds/, see its README.md), read as the API server reads it: an unknown
  field is an error (kubectl's strict field validation; without it the field is silently dropped),
  `x-kubernetes-int-or-string` is an integer or a string, a defaulted field is not required.
* The `ray up` config validates against Ray's own schema (ray/autoscaler/ray-schema.json of the Ray installed)
  and survives what `ray up` does to it before it touches a node (prepare_config, validate_config).
* What the page says they set: the token from the Secret `mlops-ray-token` (never a literal) and
  RAY_AUTH_MODE=token in every Ray container and start command, a custom resource on every worker group, the
  shared volume on every pod, the tracking server's URL, Ray 2.60 (the version mlops pins), and a RayJob whose
  entrypoint runs `mlops apply` on a cluster equal to the RayCluster's.
"""
from __future__ import annotations

import copy
import functools
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "docs" / "cluster"
RAYCLUSTER, RAYJOB, PVC, RAY_UP = (CLUSTER / name for name in (
    "kuberay-raycluster.yaml", "kuberay-rayjob.yaml", "kuberay-shared-pvc.yaml", "ray-up.yaml"))
VENDORED = Path(__file__).resolve().parent / "kuberay_crds" / "kuberay-v1.schema.json"
SECRET, TOKEN_KEY = "mlops-ray-token", "auth_token"  # the key KubeRay's authOptions.secretName reads
SHARED_CLAIM, SHARED_MOUNT = "mlops-shared", "/mnt/shared"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# --- KubeRay's structural schema, read as JSON Schema -------------------------------------------------------

KEEP_AS_IS = {"default", "enum", "example", "const"}  # values, not schemas


def as_json_schema(node):
    """A Kubernetes structural schema as JSON Schema: x-kubernetes-* keys dropped (CEL rules are not
    checked), int-or-string as anyOf integer/string, nullable as a null type, unknown fields refused where
    the schema does not preserve them, and a field with a default not required (the API server defaults
    before it validates)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key in ("properties", "patternProperties", "$defs"):
            out[key] = {name: as_json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = value if key in KEEP_AS_IS else as_json_schema(value)
    if node.get("x-kubernetes-int-or-string") or node.get("format") == "int-or-string":
        out.pop("type", None)
        if out.get("format") == "int-or-string":
            del out["format"]
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node and "additionalProperties" not in node \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if "required" in out:
        defaulted = {name for name, sub in node.get("properties", {}).items() if "default" in sub}
        out["required"] = [name for name in out["required"] if name not in defaulted]
    return out


def pruned(validator, marked, instance, schema):
    """A manifest put something where the vendored schema was trimmed: it would not be checked."""
    if marked:
        yield jsonschema.ValidationError(
            "this field's schema was pruned from tests/docs/kuberay_crds (vendor.py, PRUNED): vendor it back "
            "before a manifest uses it")


OBJECT_META = {"type": "object", "additionalProperties": False, "required": ["name"],
               "properties": {"name": {"type": "string", "pattern": DNS_LABEL.pattern},
                              "namespace": {"type": "string", "pattern": DNS_LABEL.pattern},
                              "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                              "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}


@functools.cache
def kuberay_validator(kind: str):
    vendored = json.loads(VENDORED.read_text())
    schema = as_json_schema({"$defs": vendored["$defs"], **vendored["kinds"][kind]})
    schema["properties"]["metadata"] = OBJECT_META  # the CRD leaves it to the API server: checked here
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    schema["properties"]["apiVersion"] = {"const": "ray.io/v1"}
    schema["properties"]["kind"] = {"const": kind}
    validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"x-mlops-pruned": pruned})
    validator.check_schema(schema)
    return validator(schema)


def schema_problems(manifest: dict) -> list[str]:
    errors = kuberay_validator(manifest.get("kind", "RayCluster")).iter_errors(manifest)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}" for e in errors)


@pytest.mark.parametrize("path", [RAYCLUSTER, RAYJOB], ids=lambda p: p.name)
def test_the_kuberay_manifests_match_kuberays_crd_schema(path):
    assert schema_problems(load(path)) == []


def parent(manifest: dict, path: str):
    """The container of the field at a dotted path (list indices as numbers), and the field's key."""
    *keys, last = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys:
        manifest = manifest[key]
    return manifest, last


WORKER = "spec.workerGroupSpecs.0"
CONTAINER = f"{WORKER}.template.spec.containers.0"
# Changes a reader could make, and what the check says to each: (dotted path, new name or value, message).
RENAMED = [(f"{WORKER}.rayStartParams", "rayStartParam", "'rayStartParam' was unexpected"),
           (f"{CONTAINER}.env.1.valueFrom.secretKeyRef.key", "keys", "'keys' was unexpected"),
           (f"{CONTAINER}.volumeMounts.0.mountPath", "mountpath", "'mountpath' was unexpected"),
           ("spec.authOptions.secretName", "secret", "'secret' was unexpected")]
CHANGED = [("spec.authOptions.mode", "tokens", "'tokens' is not one of"),
           (f"{WORKER}.rayStartParams.num-cpus", 4, "4 is not of type 'string'"),  # rayStartParams are strings
           (f"{CONTAINER}.resources.limits.memory", "16GB", "does not match"),  # a quantity: 16Gi
           (f"{WORKER}.template.spec.affinity", {"nodeAffinity": {}}, "pruned"),
           ("metadata.name", "MLops", "does not match")]


@pytest.mark.parametrize("path, name, message", RENAMED, ids=[case[1] for case in RENAMED])
def test_a_misspelt_field_is_refused(path, name, message):
    manifest = load(RAYCLUSTER)
    holder, key = parent(manifest, path)
    holder[name] = holder.pop(key)
    assert any(message in problem for problem in schema_problems(manifest)), schema_problems(manifest)


@pytest.mark.parametrize("path, value, message", CHANGED, ids=[case[0].rsplit(".", 1)[1] for case in CHANGED])
def test_a_wrong_value_or_a_pruned_field_is_refused(path, value, message):
    manifest = load(RAYCLUSTER)
    holder, key = parent(manifest, path)
    holder[key] = value
    assert any(message in problem for problem in schema_problems(manifest)), schema_problems(manifest)


def test_what_the_api_server_accepts_is_accepted():
    manifest = load(RAYCLUSTER)
    holder, key = parent(manifest, f"{CONTAINER}.resources.limits.cpu")
    holder[key] = 4  # int-or-string: an integer quantity
    holder, key = parent(manifest, f"{WORKER}.maxReplicas")
    del holder[key]  # required, but defaulted by the API server before it validates
    assert schema_problems(manifest) == []


# --- what docs/cluster.md promises of the KubeRay manifests -------------------------------------------------

def cluster_specs() -> list[tuple[str, dict]]:
    return [("RayCluster", load(RAYCLUSTER)["spec"]), ("RayJob", load(RAYJOB)["spec"]["rayClusterSpec"])]


def groups(spec: dict) -> list[tuple[str, dict]]:
    return [("head", spec["headGroupSpec"])] + [(g["groupName"], g) for g in spec["workerGroupSpecs"]]


def test_every_ray_container_gets_the_token_from_the_secret_and_token_mode():
    for kind, spec in cluster_specs():
        assert spec["authOptions"] == {"mode": "token", "secretName": SECRET}, kind
        for name, group in groups(spec):
            for container in group["template"]["spec"]["containers"]:
                env = {var["name"]: var for var in container["env"]}
                where = f"{kind} {name} {container['name']}"
                assert env["RAY_AUTH_MODE"] == {"name": "RAY_AUTH_MODE", "value": "token"}, where
                assert env["RAY_AUTH_TOKEN"] == {"name": "RAY_AUTH_TOKEN", "valueFrom": {
                    "secretKeyRef": {"name": SECRET, "key": TOKEN_KEY}}}, where


def test_no_manifest_turns_auth_off_or_holds_a_token():
    for path in sorted(CLUSTER.iterdir()):
        text = path.read_text()
        assert not re.search(r"RAY_AUTH_MODE\W+disabled|mode:\s*disabled", text), path.name
        assert not re.search(r"RAY_AUTH_TOKEN\W*(=|value:)", text), path.name  # only ever from a Secret or a file


def ray_start_resources(value: str) -> dict:
    """What `ray start --resources=VALUE` gets from a rayStartParams value: KubeRay puts the value into
    the shell command as it is, so '"{\\"worker_pool\\": 100}"' is the JSON object the shell unquotes."""
    (unquoted,) = shlex.split(value)
    return json.loads(unquoted)


def test_every_worker_group_declares_a_custom_resource_and_the_cpu_group_worker_pool():
    for kind, spec in cluster_specs():
        declared = {}
        for group in spec["workerGroupSpecs"]:
            params = group["rayStartParams"]
            resources = ray_start_resources(params["resources"])
            assert resources and all(isinstance(n, int) and n > 0 for n in resources.values()), group["groupName"]
            # KubeRay refuses a group that declares resources both here and in its own `resources` field.
            assert not group.get("resources"), group["groupName"]
            declared[group["groupName"]] = resources
        assert declared["cpu"] == {"worker_pool": 100}, kind
        assert ray_start_resources('"{\\"worker_pool\\": 100}"') == {"worker_pool": 100}


def test_every_pod_mounts_the_shared_volume_and_reaches_the_tracking_server():
    for kind, spec in cluster_specs():
        for name, group in groups(spec):
            pod = group["template"]["spec"]
            claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in pod["volumes"]}
            for container in pod["containers"]:
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                assert claims[mounts[SHARED_MOUNT]] == SHARED_CLAIM, f"{kind} {name}"
                env = {var["name"]: var.get("value") for var in container["env"]}
                assert re.match(r"https?://", env["MLOPS_TRACKING_URI"]), f"{kind} {name}"
    pvc = load(PVC)
    assert (pvc["apiVersion"], pvc["kind"], pvc["metadata"]["name"]) == ("v1", "PersistentVolumeClaim", SHARED_CLAIM)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]  # every pod mounts it at once


def ray_pin() -> str:
    """The Ray minor version mlops depends on (pyproject.toml: ray[...]==2.60.*)."""
    (pin,) = re.findall(r'^\s*"ray\[[^\]]*\]==(\d+\.\d+)\.\*",', (ROOT / "pyproject.toml").read_text(), re.M)
    return pin


def test_the_images_and_ray_version_are_the_ray_mlops_pins():
    pin = ray_pin()
    for kind, spec in cluster_specs():
        assert spec["rayVersion"].startswith(pin + "."), kind
        for name, group in groups(spec):
            for container in group["template"]["spec"]["containers"]:
                assert re.fullmatch(rf"rayproject/ray:{re.escape(spec['rayVersion'])}-py3\d+(-gpu)?",
                                    container["image"]), f"{kind} {name}"
    assert f'"ray[default]=={pin}.' in RAY_UP.read_text()


def test_the_rayjob_runs_mlops_apply_on_the_raycluster_spec_and_then_shuts_it_down():
    job = load(RAYJOB)["spec"]
    argv = shlex.split(job["entrypoint"])
    assert argv[:4] == ["python", "-m", "mlops.cli", "apply"], argv
    assert argv[4].startswith(SHARED_MOUNT + "/") and argv[4].endswith(".yaml"), argv
    assert job["shutdownAfterJobFinishes"] is True
    runtime_env = yaml.safe_load(job["runtimeEnvYAML"])
    assert [Path(p).name.split("-")[0] for p in runtime_env["pip"]] == ["mlops"]
    assert all(p.startswith(SHARED_MOUNT + "/") for p in runtime_env["pip"])  # on every pod
    assert job["rayClusterSpec"] == load(RAYCLUSTER)["spec"], "the page says the RayJob's cluster is the RayCluster's"


# --- ray up -------------------------------------------------------------------------------------------------

def ray_schema() -> dict:
    import ray.autoscaler

    path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    if not path.is_file():
        pytest.skip(f"this Ray has no {path}")
    return json.loads(path.read_text())


def test_the_ray_up_config_matches_rays_schema_and_what_ray_up_makes_of_it():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load(RAY_UP)
    jsonschema.validate(config, ray_schema())
    validate_config(prepare_config(config))  # what `ray up` runs first (defaults merged, node types filled)
    broken = copy.deepcopy(config)
    broken["head_start_ray_command"] = broken.pop("head_start_ray_commands")
    with pytest.raises(jsonschema.ValidationError, match="head_start_ray_command"):
        jsonschema.validate(broken, ray_schema())


def ray_starts(commands: list[str]) -> list[tuple[dict, list[str]]]:
    """Each `ray start` of a list of shell commands: its VAR=value prefix and its arguments."""
    found = []
    for command in commands:
        for part in command.split(";"):
            words = shlex.split(part)
            env = {}
            while words and re.match(r"^[A-Z_]+=", words[0]):
                name, _, value = words.pop(0).partition("=")
                env[name] = value
            if words[:2] == ["ray", "start"]:
                found.append((env, words[2:]))
    return found


def option(args: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return values[0] if values else None


def test_the_ray_up_nodes_start_with_token_auth_and_the_workers_with_the_custom_resource():
    config = load(RAY_UP)
    (head_env, head), = ray_starts(config["head_start_ray_commands"])
    (worker_env, worker), = ray_starts(config["worker_start_ray_commands"])
    assert "--head" in head and "--head" not in worker and option(worker, "address")
    for env in (head_env, worker_env):
        assert env["RAY_AUTH_MODE"] == "token"
        assert re.match(r"https?://", env["MLOPS_TRACKING_URI"])
    assert json.loads(option(worker, "resources")) == {"worker_pool": 100}
    # The token reaches every node as Ray's token file, copied from the operator's, never on a command line.
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    setup = "\n".join(config["setup_commands"])
    assert "mlops-" in setup and "pip install" in setup and SHARED_MOUNT in setup


def test_the_page_links_every_manifest():
    page = (ROOT / "docs" / "cluster.md").read_text()
    for path in sorted(CLUSTER.iterdir()):
        assert f"](cluster/{path.name})" in page, path.name


def test_the_pages_cluster_preset_is_a_valid_hardware_section():
    from mlops.spec.hardware import HardwareSpec

    page = (ROOT / "docs" / "cluster.md").read_text()
    (block,) = re.findall(r"```yaml\n(# hardware/cluster\.yaml.*?)```", page, re.S)
    hardware = HardwareSpec.model_validate(yaml.safe_load(block))
    assert (hardware.cluster, hardware.resources_per_task) == ("auto", {"worker_pool": 1})
    assert hardware.storage.startswith(SHARED_MOUNT + "/")
