"""What `mlops submit --upload` ships: a project full of decoys, checked without a cluster."""
from __future__ import annotations

import json
import shutil

import pytest

from mlops.errors import SpecError
from mlops.runtime.upload import checked_upload, parse_rules, ignored, stage, upload_list

PROJECT = ["spec.yaml", "data/train.csv", "src/features.py", "README.md", "conf/model/knn.yaml"]
CREDENTIALS = [".envrc", ".env", ".env.prod", ".aws/credentials", ".aws/config", ".git-credentials", ".pgpass",
               ".pypirc", ".netrc", ".ssh/id_ecdsa", "keys/id_ecdsa", "keys/id_rsa.pub", "certs/client.p12",
               "certs/tls.pem", "certs/tls.key", "kubeconfig", "deploy/.kube/config", "infra/terraform.tfstate",
               "infra/terraform.tfstate.backup", "config/secrets.yaml", "gcp/service-account.json"]
STORE = [".mlops/mlflow.db", ".mlops/node-cache/ab12.pkl", ".mlops/ray-head.json", "mlflow.db", "mlflow.db-wal",
         "mlruns/0/meta.yaml", "node-cache/cd34.pkl", "sub/node-cache/ef56.pkl", "out/predictions.parquet",
         ".git/config", ".venv/bin/python", "src/__pycache__/features.cpython-311.pyc"]


def project_with_decoys(root):
    for rel in PROJECT + CREDENTIALS + STORE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {rel}\n")
    # a key whatever its name: a service-account JSON and a PEM private key under innocent names
    (root / "data" / "settings.json").write_text(json.dumps({"type": "service_account", "private_key": "-----BEGIN"}))
    (root / "src" / "notes.txt").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n")
    return root


def test_a_project_full_of_decoys_ships_only_its_own_files_and_refuses_the_credentials(tmp_path):
    root = project_with_decoys(tmp_path / "project")
    chosen = upload_list(root)
    assert chosen.files == sorted(PROJECT)
    assert chosen.refused == sorted(CREDENTIALS + ["data/settings.json", "src/notes.txt"])
    with pytest.raises(SpecError) as refused:  # the CLI prints these lines and exits 2
        checked_upload(root)
    message = str(refused.value)
    assert all(rel in message for rel in chosen.refused) and "--include" in message


def test_gitignore_and_mlopsignore_drop_files_silently_and_include_names_a_credential(tmp_path):
    root = project_with_decoys(tmp_path / "project")
    (root / ".gitignore").write_text(".env*\n.aws/\n/keys/\n*.tfstate*\ncerts/\n!certs/tls.pem\ndata/*.csv\n")
    (root / "deploy" / ".gitignore").write_text(".kube/\n")
    (root / ".mlopsignore").write_text("# shipped after all, although git ignores it\n!data/train.csv\n"
                                       "kubeconfig\nconfig/\ngcp/\n.git-credentials\n.pgpass\n.pypirc\n.netrc\n"
                                       "data/settings.json\nsrc/notes.txt\n")
    named = [".ssh/id_ecdsa"]
    chosen = checked_upload(root, include=named)  # nothing refused: the rest is ignored
    assert chosen.files == sorted(PROJECT + named)
    staged = stage(chosen)
    try:
        shipped = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(staged)
    assert shipped == chosen.files  # the working_dir is exactly the list: no ignore file for Ray to reread


def test_the_spec_s_own_sqlite_store_never_ships_and_cannot_be_included(tmp_path):
    root = project_with_decoys(tmp_path / "project")
    (root / "state" / "artifacts" / "1").mkdir(parents=True)
    (root / "state" / "artifacts" / "1" / "model.skops").write_text("model")
    (root / "state" / "runs.db").write_text("db")
    uri = f"sqlite:///{root / 'state' / 'runs.db'}"
    files = upload_list(root, include=CREDENTIALS, tracking_uri=uri).files
    assert not any(f.startswith("state/") for f in files) and "spec.yaml" in files
    for store in (".mlops/mlflow.db", "mlruns", "state/runs.db"):
        with pytest.raises(SpecError, match="never uploaded"):
            upload_list(root, include=[store], tracking_uri=uri)
    with pytest.raises(SpecError, match="not inside"):
        upload_list(root, include=["../elsewhere"])
    with pytest.raises(SpecError, match="no such file"):
        upload_list(root, include=["nope.txt"])


def test_a_link_out_of_the_project_is_refused(tmp_path):
    root = project_with_decoys(tmp_path / "project")
    (tmp_path / "outside.txt").write_text("anything")
    (root / "data" / "innocent.csv").symlink_to(tmp_path / "outside.txt")
    assert "data/innocent.csv" in upload_list(root).refused


def test_gitignore_syntax():
    rules = parse_rules(["*.log", "!keep.log", "/build/", "docs/**/draft.md", "a?c", "[0-9]*.tmp", "\\#literal"])
    assert ignored(rules, "x/y/z.log", False) and not ignored(rules, "x/keep.log", False)
    assert ignored(rules, "build", True) and ignored(rules, "build/lib/x.py", False)
    assert not ignored(rules, "src/build", True)  # anchored to the root
    assert ignored(rules, "docs/draft.md", False) and ignored(rules, "docs/a/b/draft.md", False)
    assert ignored(rules, "abc", False) and not ignored(rules, "abbc", False)
    assert ignored(rules, "7days.tmp", False) and not ignored(rules, "days.tmp", False)
    assert ignored(rules, "#literal", False)


def test_an_endpoint_with_a_generated_token_is_not_submitted(tmp_path):
    """A submitted job deploys from the cluster: the token mlops would generate would stay there. Refused
    naming serving.online.auth before any cluster is contacted (the address is nothing that listens); a
    token from a variable, or a batch-only spec, is not."""
    from conftest import EXAMPLES
    from mlops import api
    from mlops.runtime.submit import check_endpoint_token, submit

    online = api.load(EXAMPLES / "iris" / "online.yaml", [], check_data=False)
    with pytest.raises(SpecError, match=r"serving\.online\.auth.*token_env"):
        submit(online, [], "http://127.0.0.1:9", wait=False)
    check_endpoint_token(api.load(EXAMPLES / "iris" / "online.yaml", ["+serving.online.auth.token_env=T"], check_data=False))
    check_endpoint_token(api.load(EXAMPLES / "iris" / "spec.yaml", [], check_data=False))
