"""What `mlops submit --upload` ships: the spec's directory, less what is ignored, never the store, and
never a file that looks like a credential unless the user names it (`--include PATH`).

1. Never shipped, whatever the ignore files say: the tracking store and the node cache (`.mlops/`,
   `mlflow.db`, `mlruns/`, `node-cache/`, the spec's own SQLite store), outputs, version control and
   environments (`ALWAYS_EXCLUDED`).
2. Ignored: what `.gitignore` (at any depth) and `.mlopsignore` (the spec's directory; read after
   `.gitignore`, so `!path` there ships a file git ignores) exclude, in gitignore syntax.
3. Refused: any file left that looks like a credential (`CREDENTIALS`, or a private key / cloud key in
   its first bytes, or a link out of the project) stops the upload with the list, unless `--include` names it.

The files chosen are copied to a staging directory that becomes the job's working_dir, so the upload is
exactly this list (Ray's own ignore handling never sees the project).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from mlops import stores
from mlops.errors import Problem, SpecError

ALWAYS_EXCLUDED = [".mlops/", "mlflow.db", "mlflow.db-*", "mlruns/", "mlartifacts/", "node-cache/", "node-cache-*/",
                   "out/", ".git/", ".hg/", ".svn/", ".venv/", "venv/", ".venv-*/", "__pycache__/", ".pytest_cache/",
                   ".gitignore", ".mlopsignore", ".rayignore"]
CREDENTIALS = [".env", ".env.*", ".envrc", ".netrc", "_netrc", ".pgpass", ".pypirc", ".npmrc", ".git-credentials",
               ".my.cnf", ".aws/", ".ssh/", ".gnupg/", ".kube/", ".azure/", ".docker/config.json", "gcloud/",
               "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks",
               "*.keystore", "*.kdbx", "kubeconfig", "*.kubeconfig", "*.tfstate", "*.tfstate.*", "*.tfvars",
               "secrets.*", "*.secrets", "credentials", "credentials.*", "*service-account*.json",
               "*service_account*.json"]
# What a key file says about itself, whatever its name: PEM private keys, AWS and GCP service-account keys.
CREDENTIAL_CONTENT = re.compile(rb"PRIVATE KEY-----|aws_secret_access_key|\"type\"\s*:\s*\"service_account\"")
SNIFF_BYTES = 64 * 1024
IGNORE_FILES = (".gitignore", ".mlopsignore")


@dataclass(frozen=True)
class Rule:
    """One gitignore line: the path regex it stands for, relative to the folder of its ignore file."""

    regex: re.Pattern
    negate: bool
    dir_only: bool
    base: str  # the ignore file's folder, relative to the upload root ("" for the root)

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1:]
        return bool(self.regex.match(path))


def _glob_regex(pattern: str) -> str:
    """gitignore glob -> regex body: `*` and `?` stay within a segment, `**` crosses them."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def parse_rules(lines: Iterable[str], base: str = "") -> list[Rule]:
    """The rules of an ignore file's lines (gitignore syntax: `#` comments, `!` negation, trailing `/` for
    folders, a `/` elsewhere anchors the pattern to the file's folder)."""
    rules = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        if line.startswith(("\\!", "\\#")):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        body = _glob_regex(line.lstrip("/"))
        regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")
        rules.append(Rule(regex, negate, dir_only, base))
    return rules


def ignored(rules: Sequence[Rule], path: str, is_dir: bool) -> bool:
    """gitignore's verdict on `path`: excluded when a folder above it is (nothing inside an excluded folder
    comes back), else the last rule that matches the path decides."""
    parts = path.split("/")
    return any(_verdict(rules, "/".join(parts[:i]), True) for i in range(1, len(parts))) or _verdict(rules, path, is_dir)


def _verdict(rules: Sequence[Rule], path: str, is_dir: bool) -> bool:
    verdict = False
    for rule in rules:
        if rule.matches(path, is_dir):
            verdict = not rule.negate
    return verdict


ALWAYS_RULES = parse_rules(ALWAYS_EXCLUDED)
CREDENTIAL_RULES = parse_rules(CREDENTIALS)


def looks_like_credential(root: Path, rel: str) -> bool:
    """The file's name or a folder above it is a usual credential's, or its first bytes are a key's, or it
    links out of the project."""
    if ignored(CREDENTIAL_RULES, rel, is_dir=False):  # a folder above counts too (`.aws/credentials`)
        return True
    path = root / rel
    if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
        return True
    try:
        with open(path, "rb") as handle:
            return bool(CREDENTIAL_CONTENT.search(handle.read(SNIFF_BYTES)))
    except OSError:
        return False


@dataclass
class UploadList:
    """The files to ship (relative to the root, sorted) and those refused as credentials."""

    root: Path
    files: list[str]
    refused: list[str]


def _store_rules(root: Path, tracking_uri: str | None) -> list[Rule]:
    """The spec's own SQLite store (and its artifacts and node cache) when it lies inside the project."""
    db = stores.sqlite_path(tracking_uri) if tracking_uri else None
    if db is None:
        return []
    try:
        folder = db.resolve().parent.relative_to(root.resolve()).as_posix()
    except ValueError:
        return []
    prefix = "" if folder == "." else folder + "/"
    return parse_rules([f"/{prefix}{db.name}", f"/{prefix}{db.name}-*", f"/{prefix}artifacts/", f"/{prefix}node-cache*/"])


def upload_list(root: Path, include: Sequence[str] = (), tracking_uri: str | None = None) -> UploadList:
    """Walk `root`: every file not excluded or ignored; credential-looking ones are refused unless `include`
    names them (or a folder above them). Raises SpecError for an --include path that is not in the project."""
    root = Path(root)
    never = ALWAYS_RULES + _store_rules(root, tracking_uri)
    named = _named(root, include, never)
    mlopsignore = root / ".mlopsignore"
    tail = parse_rules(mlopsignore.read_text().splitlines()) if mlopsignore.is_file() else []
    rules_of: dict[str, list[Rule]] = {}  # folder -> the .gitignore rules of it and the folders above it
    files, refused = [], []
    for folder, dirs, names in os.walk(root):
        rel_dir = Path(folder).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        gitignore = Path(folder) / ".gitignore"
        own = parse_rules(gitignore.read_text(errors="replace").splitlines(), rel_dir) if gitignore.is_file() else []
        rules_of[rel_dir] = (rules_of[rel_dir.rpartition("/")[0]] if rel_dir else []) + own
        rules = rules_of[rel_dir] + tail

        def skipped(rel: str, is_dir: bool) -> bool:
            return ignored(never, rel, is_dir) or (not _is_named(rel, named, inside=is_dir) and ignored(rules, rel, is_dir))

        dirs[:] = sorted(d for d in dirs if not skipped(f"{rel_dir}/{d}".lstrip("/"), True))
        for rel in (f"{rel_dir}/{name}".lstrip("/") for name in sorted(names)):
            if skipped(rel, False):
                continue
            (refused if not _is_named(rel, named) and looks_like_credential(root, rel) else files).append(rel)
    return UploadList(root, sorted(files), sorted(refused))


def _named(root: Path, include: Sequence[str], never: Sequence[Rule]) -> list[str]:
    """--include paths relative to the root; each must exist inside the project, and not be the store."""
    out = []
    for given in include:
        path = Path(given) if Path(given).is_absolute() else root / given
        try:
            rel = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise SpecError(Problem("--include", "not inside the uploaded directory", value=given,
                                    hint=f"name files under {root}")) from None
        if not path.exists():
            raise SpecError(Problem("--include", "no such file", value=given, hint=f"paths are relative to {root}"))
        if ignored(never, rel, path.is_dir()):
            raise SpecError(Problem("--include", "the tracking store, node cache, outputs, version control and "
                                    "environments are never uploaded", value=given))
        out.append(rel)
    return out


def _is_named(rel: str, named: Sequence[str], inside: bool = False) -> bool:
    """`rel` is a named path or under one (a folder on the way to a named path counts too, when `inside`)."""
    return any(rel == n or rel.startswith(n + "/") or (inside and n.startswith(rel + "/")) for n in named)


def checked_upload(root: Path, include: Sequence[str] = (), tracking_uri: str | None = None) -> UploadList:
    """upload_list(), refusing (a SpecError listing them, exit 2) when credential-looking files are left."""
    chosen = upload_list(root, include, tracking_uri)
    if chosen.refused:
        raise SpecError([Problem("--upload", f"refusing to ship {rel}: it looks like a credential") for rel in chosen.refused]
                        + [Problem("--upload", "nothing was uploaded", hint="add these to .mlopsignore (or .gitignore), "
                                   "or name each one you mean to ship with --include PATH")])
    return chosen


def stage(chosen: UploadList) -> Path:
    """A temporary copy of exactly the chosen files (the job's working_dir); the caller removes it."""
    staging = Path(tempfile.mkdtemp(prefix="mlops-upload-"))
    for rel in chosen.files:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(chosen.root / rel, target)
    return staging
