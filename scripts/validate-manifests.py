#!/usr/bin/env python3
"""Validate every YAML document under examples/deploy/ offline.

Each document is checked against a schema chosen by its apiVersion and kind:

* Kubernetes kinds: the kubeconform-format JSON schemas (v1.32.2, standalone-strict) in
  examples/deploy/schemas/kubernetes/, file `{kind}-{group prefix}-{version}.json`.
* Custom resources: the openAPIV3Schema of a CustomResourceDefinition kept under
  examples/deploy/schemas/ (Argo CD Application, Crossplane XRD/Composition/EnvironmentConfig),
  or of a Crossplane CompositeResourceDefinition found in examples/deploy/ itself (its composite
  and claim kinds).
* A short allow-list of kinds without a published schema here (Kustomize, the Argo CD CMP
  plugin.yaml, KEDA, Forge's ReleasePointer, ...): a structural schema written below.

Any other kind is an error: add a schema or an allow-list entry on purpose.

Then the Kustomize base (examples/deploy/kustomization.yaml) is resolved like `kubectl kustomize`
would (resources, components) and cross-checked: unique objects, namespaces declared,
ServiceAccounts/ConfigMaps/Secrets referenced by pods exist (or are documented external Secrets),
Service/PDB/NetworkPolicy selectors match a pod template, HPA/ScaledObject targets and RoleBinding
roles/subjects exist, every container image is pinned by the kustomization's `images`. When
`kubectl` is on PATH the base is also rendered with `kubectl kustomize` and the rendered output is
validated the same way.

Usage: scripts/validate-manifests.py [--self-test] [ROOT]   (default: examples/deploy)
--self-test first checks that a list of deliberately broken variants of the tree is rejected.
Exit status 0 when everything is valid, 1 otherwise. Needs `jsonschema` and `pyyaml`; when they
are missing they are installed into the venv /var/cache/forge-venv (created if needed) and the
script re-runs itself with that interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

VENV = Path(os.environ.get("FORGE_VENV", "/var/cache/forge-venv"))


def ensure_deps() -> None:
    """Import jsonschema and yaml, installing them into the project venv if needed."""
    try:
        import jsonschema  # noqa: F401
        import yaml  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("FORGE_VALIDATE_REEXEC") == "1":
        sys.exit("validate-manifests: jsonschema/pyyaml still missing after installing them")
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "jsonschema", "pyyaml"], check=True)
    env = dict(os.environ, FORGE_VALIDATE_REEXEC="1")
    os.execve(str(py), [str(py), *sys.argv], env)


ensure_deps()

import jsonschema  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# Secrets the base references but deliberately does not create (README.md of examples/deploy).
EXTERNAL_SECRETS = {
    ("forge", "forge-api-database"),
    ("forge", "forge-gitops-ssh"),
}

# Namespaces objects of the base may live in without the base declaring them.
EXTERNAL_NAMESPACES: set[str] = set()

META_NAME = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string", "minLength": 1},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def obj(required, properties, additional=True):
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": additional,
    }


STR = {"type": "string", "minLength": 1}
STR_LIST = {"type": "array", "items": STR}

KUSTOMIZATION_SCHEMA = obj(
    ["apiVersion", "kind"],
    {
        "apiVersion": STR,
        "kind": STR,
        "resources": STR_LIST,
        "components": STR_LIST,
        "namespace": STR,
        "images": {
            "type": "array",
            "items": obj(["name"], {"name": STR, "newName": STR, "newTag": STR, "digest": STR}, False),
        },
        "patches": {
            "type": "array",
            "items": obj([], {"path": STR, "patch": STR, "target": {"type": "object"}, "options": {"type": "object"}}, False),
        },
    },
)

# Structural schemas for allow-listed kinds that have no published schema in this repository.
STRUCTURAL = {
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"): KUSTOMIZATION_SCHEMA,
    ("kustomize.config.k8s.io/v1alpha1", "Component"): KUSTOMIZATION_SCHEMA,
    # Argo CD CMP v2 plugin.yaml (argoproj.io/v1alpha1 ConfigManagementPlugin).
    ("argoproj.io/v1alpha1", "ConfigManagementPlugin"): obj(
        ["apiVersion", "kind", "metadata", "spec"],
        {
            "metadata": META_NAME,
            "spec": obj(
                ["generate"],
                {
                    "version": {"type": "string"},
                    "init": obj(["command"], {"command": {"type": "array", "minItems": 1, "items": STR}, "args": STR_LIST}),
                    "generate": obj(["command"], {"command": {"type": "array", "minItems": 1, "items": STR}, "args": STR_LIST}),
                    "discover": {"type": "object"},
                    "parameters": {"type": "object"},
                    "preserveFileMode": {"type": "boolean"},
                    "provideGitCreds": {"type": "boolean"},
                    "lockRepo": {"type": "boolean"},
                },
                False,
            ),
        },
    ),
    ("argoproj.io/v1alpha1", "AppProject"): obj(["apiVersion", "kind", "metadata", "spec"], {"metadata": META_NAME, "spec": {"type": "object"}}),
    ("argoproj.io/v1alpha1", "ApplicationSet"): obj(["apiVersion", "kind", "metadata", "spec"], {"metadata": META_NAME, "spec": obj(["template"], {})}),
    ("argoproj.io/v1alpha1", "WorkflowTemplate"): obj(["apiVersion", "kind", "metadata", "spec"], {"metadata": META_NAME, "spec": {"type": "object"}}),
    # KEDA (optional autoscaling component).
    ("keda.sh/v1alpha1", "ScaledObject"): obj(
        ["apiVersion", "kind", "metadata", "spec"],
        {
            "metadata": META_NAME,
            "spec": obj(
                ["scaleTargetRef", "triggers"],
                {
                    "scaleTargetRef": obj(["name"], {"name": STR, "kind": STR, "apiVersion": STR}, False),
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": obj(
                            ["type", "metadata"],
                            {"type": STR, "metadata": {"type": "object", "additionalProperties": {"type": "string"}}, "authenticationRef": obj(["name"], {"name": STR})},
                            False,
                        ),
                    },
                },
            ),
        },
    ),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): obj(
        ["apiVersion", "kind", "metadata", "spec"],
        {
            "metadata": META_NAME,
            "spec": obj([], {"podIdentity": obj(["provider"], {"provider": {"enum": ["none", "azure-workload", "gcp", "aws", "aws-eks", "aws-kiam"]}, "identityOwner": {"enum": ["keda", "workload"]}})}),
        },
    ),
    # Crossplane package objects.
    ("pkg.crossplane.io/v1", "Function"): obj(["apiVersion", "kind", "metadata", "spec"], {"metadata": META_NAME, "spec": obj(["package"], {"package": STR})}),
    ("pkg.crossplane.io/v1beta1", "Function"): obj(["apiVersion", "kind", "metadata", "spec"], {"metadata": META_NAME, "spec": obj(["package"], {"package": STR})}),
    ("pkg.crossplane.io/v1beta1", "DeploymentRuntimeConfig"): obj(["apiVersion", "kind", "metadata"], {"metadata": META_NAME}),
    # Forge's own ReleasePointer (SPEC §6.2; unknown fields rejected).
    ("forge.projectcatalyst.io/v1", "ReleasePointer"): obj(
        ["apiVersion", "kind", "metadata", "spec"],
        {
            "apiVersion": STR,
            "kind": STR,
            "metadata": obj(["name", "environment"], {"name": STR, "environment": STR}, False),
            "spec": obj(
                ["release", "deployedAt", "deployedBy"],
                {
                    "release": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
                    "aliases": obj([], {"numeric": {"type": "integer", "minimum": 1}, "tag": STR, "branch": STR}, False),
                    "deployedAt": STR,
                    "deployedBy": STR,
                    "approvedBy": STR,
                    "approvedAt": STR,
                },
                False,
            ),
        },
        False,
    ),
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"}
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "CompositeResourceDefinition", "Composition", "EnvironmentConfig", "Function",
    "DeploymentRuntimeConfig", "PersistentVolume", "StorageClass",
}


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.counts: dict[str, int] = {}
        self.total = 0
        self.files = 0
        self.rendered = 0

    def error(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def warn(self, where: str, msg: str) -> None:
        self.warnings.append(f"{where}: {msg}")

    def count(self, how: str) -> None:
        self.counts[how] = self.counts.get(how, 0) + 1


class Schemas:
    """Maps (apiVersion, kind) to a JSON schema and a label saying where it came from."""

    def __init__(self, root: Path) -> None:
        self.k8s_dir = root / "schemas" / "kubernetes" / "v1.32.2-standalone-strict"
        self.crd: dict[tuple[str, str], tuple[dict, str]] = {}
        self._k8s_cache: dict[Path, dict] = {}
        schema_dir = root / "schemas"
        for path in sorted(schema_dir.rglob("*.json")):
            if path.name.endswith(".openAPIV3Schema.json") and path.name.startswith("application-"):
                self.crd[("argoproj.io/v1alpha1", "Application")] = (json.loads(path.read_text()), f"CRD schema {path.name}")
        for path in sorted(schema_dir.rglob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    self.add_crd(doc, f"CRD {path.name}")

    def add_crd(self, doc: dict, label: str) -> None:
        spec = doc.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for ver in spec.get("versions") or []:
            schema = ((ver.get("schema") or {}).get("openAPIV3Schema"))
            if group and kind and schema:
                self.crd[(f"{group}/{ver['name']}", kind)] = (schema, label)

    def add_xrd(self, doc: dict, label: str) -> None:
        """A Crossplane XRD defines a composite kind (and maybe a claim kind) with a schema."""
        spec = doc.get("spec") or {}
        group = spec.get("group")
        kinds = [(spec.get("names") or {}).get("kind"), (spec.get("claimNames") or {}).get("kind")]
        for ver in spec.get("versions") or []:
            schema = (ver.get("schema") or {}).get("openAPIV3Schema")
            if not (group and schema):
                continue
            for kind in filter(None, kinds):
                self.crd[(f"{group}/{ver['name']}", kind)] = (schema, label)

    def k8s_file(self, api_version: str, kind: str) -> Path:
        group, _, version = api_version.rpartition("/")
        prefix = group.split(".")[0] if group else ""
        name = f"{kind.lower()}-{prefix}-{version}.json" if prefix else f"{kind.lower()}-{version}.json"
        return self.k8s_dir / name

    def lookup(self, api_version: str, kind: str) -> tuple[dict, str] | None:
        path = self.k8s_file(api_version, kind)
        if path.exists():
            if path not in self._k8s_cache:
                self._k8s_cache[path] = json.loads(path.read_text())
            return self._k8s_cache[path], f"kubernetes {path.name}"
        if (api_version, kind) in self.crd:
            return self.crd[(api_version, kind)]
        if (api_version, kind) in STRUCTURAL:
            return STRUCTURAL[(api_version, kind)], "structural allow-list"
        return None


def load_docs(path: Path, report: Report) -> list[dict]:
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as e:
        report.error(str(path), f"YAML parse error: {e}")
        return []
    return [d for d in docs if d is not None]


def without_required(schema):
    """A copy of a schema that accepts partial objects (patches): no `required` anywhere, but
    every other constraint (types, unknown fields) kept."""
    if isinstance(schema, dict):
        return {k: without_required(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [without_required(v) for v in schema]
    return schema


_PARTIAL_CACHE: dict[int, dict] = {}


def is_patch_file(path: Path) -> bool:
    """Strategic-merge patches are partial objects; they are named `*-patch.yaml`/`*.patch.yaml`
    or referenced as `patches: - path:` by a kustomization."""
    return path.name.endswith(("-patch.yaml", ".patch.yaml", "-patch.yml", ".patch.yml")) or path.resolve() in PATCH_FILES


PATCH_FILES: set[Path] = set()


def validate_doc(doc, where: str, schemas: Schemas, report: Report, partial: bool = False) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("apiVersion"), str) or not isinstance(doc.get("kind"), str):
        report.error(where, "not a Kubernetes-style object (needs string apiVersion and kind)")
        return
    api_version, kind = doc["apiVersion"], doc["kind"]
    name = (doc.get("metadata") or {}).get("name", "")
    found = schemas.lookup(api_version, kind)
    if found is None:
        report.error(where, f"unknown kind {api_version}/{kind} ({name}): add a schema or allow-list it in scripts/validate-manifests.py")
        return
    schema, label = found
    if partial:
        if id(schema) not in _PARTIAL_CACHE:
            _PARTIAL_CACHE[id(schema)] = without_required(schema)
        schema, label = _PARTIAL_CACHE[id(schema)], label + ", as a patch"
    validator = jsonschema.Draft7Validator(schema)
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errs[:10]:
        loc = "/".join(str(p) for p in e.absolute_path) or "(root)"
        report.error(where, f"{kind} {name}: {loc}: {e.message[:300]} [{label}]")
    if not errs:
        report.count(label.split(" ")[0] if label.startswith(("kubernetes", "CRD")) else label)


def resolve_kustomization(path: Path, report: Report, seen: set[Path], files: set[Path], with_components: bool) -> list[tuple[dict, str]]:
    """Emulates the resource/component resolution of kustomize (not its transformers except
    patches with `$patch: delete`, which are applied)."""
    kdir = path.parent
    if path in seen:
        report.error(str(path), "kustomization cycle")
        return []
    seen.add(path)
    files.add(path)
    docs = load_docs(path, report)
    if not docs:
        return []
    k = docs[0]
    out: list[tuple[dict, str]] = []
    entries = list(k.get("resources") or [])
    comp_entries = list(k.get("components") or []) if with_components or k.get("kind") == "Component" else []
    for entry in entries + comp_entries:
        if "://" in entry or entry.startswith("github.com/"):
            report.error(str(path), f"remote resource {entry!r}: the base must be self-contained")
            continue
        target = (kdir / entry).resolve()
        if not target.exists():
            report.error(str(path), f"resource {entry!r} does not exist")
            continue
        if target.is_dir():
            sub = next((target / n for n in ("kustomization.yaml", "kustomization.yml", "Kustomization") if (target / n).exists()), None)
            if sub is None:
                report.error(str(path), f"resource directory {entry!r} has no kustomization.yaml")
                continue
            out.extend(resolve_kustomization(sub, report, seen, files, with_components))
        else:
            files.add(target)
            out.extend((d, os.path.relpath(target, REPO)) for d in load_docs(target, report))
    for p in k.get("patches") or []:
        if "path" in p:
            target = (kdir / p["path"]).resolve()
            if not target.exists():
                report.error(str(path), f"patch {p['path']!r} does not exist")
            files.add(target)
        patch_docs = [yaml.safe_load(p["patch"])] if "patch" in p else []
        for pd in patch_docs:
            if isinstance(pd, dict) and pd.get("$patch") == "delete":
                key = (pd.get("kind"), (pd.get("metadata") or {}).get("name"))
                before = len(out)
                out = [(d, w) for d, w in out if (d.get("kind"), (d.get("metadata") or {}).get("name")) != key]
                if len(out) == before and k.get("kind") == "Kustomization":
                    report.error(str(path), f"delete patch matches nothing: {key}")
    return out


def selector_matches(selector: dict, labels: dict) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_template(doc: dict) -> dict | None:
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind in WORKLOAD_KINDS:
        return spec.get("template")
    return None


def cross_check(objects: list[tuple[dict, str]], kustomization: dict, report: Report, label: str) -> None:
    """Reference checks between the objects of one rendered kustomization."""
    index: dict[tuple[str, str, str], tuple[dict, str]] = {}
    namespaces = {(d.get("metadata") or {}).get("name") for d, _ in objects if d.get("kind") == "Namespace"}
    namespaces |= EXTERNAL_NAMESPACES
    for d, where in objects:
        md = d.get("metadata") or {}
        kind, name, ns = d.get("kind"), md.get("name"), md.get("namespace", "")
        key = (kind, ns, name)
        if key in index:
            report.error(where, f"{label}: duplicate object {kind} {ns}/{name}")
        index[key] = (d, where)
        if kind not in CLUSTER_SCOPED and not d.get("apiVersion", "").startswith("kustomize"):
            if not ns:
                report.error(where, f"{label}: {kind} {name} has no namespace (the base sets every namespace explicitly)")
            elif ns not in namespaces:
                report.error(where, f"{label}: {kind} {name} is in namespace {ns!r}, which the base does not declare")

    def exists(kind: str, ns: str, name: str) -> bool:
        return (kind, ns, name) in index

    pods = []  # (namespace, labels, podspec, where, owner)
    for d, where in objects:
        tmpl = pod_template(d)
        if tmpl is None:
            continue
        md = d.get("metadata") or {}
        ns = md.get("namespace", "")
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        podspec = tmpl.get("spec") or {}
        pods.append((ns, labels, podspec, where, f"{d['kind']} {md.get('name')}"))
        owner = f"{d['kind']} {md.get('name')}"
        sel = (d.get("spec") or {}).get("selector")
        if d["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"} and sel and not selector_matches(sel, labels):
            report.error(where, f"{label}: {owner}: selector does not match its pod template labels")
        sa = podspec.get("serviceAccountName")
        if sa and not exists("ServiceAccount", ns, sa):
            report.error(where, f"{label}: {owner}: ServiceAccount {sa!r} not in the base")
        containers = (podspec.get("containers") or []) + (podspec.get("initContainers") or [])
        for c in containers:
            for ef in c.get("envFrom") or []:
                if "configMapRef" in ef and not exists("ConfigMap", ns, ef["configMapRef"]["name"]):
                    report.error(where, f"{label}: {owner}: ConfigMap {ef['configMapRef']['name']!r} not in the base")
                if "secretRef" in ef and not (exists("Secret", ns, ef["secretRef"]["name"]) or (ns, ef["secretRef"]["name"]) in EXTERNAL_SECRETS):
                    report.error(where, f"{label}: {owner}: Secret {ef['secretRef']['name']!r} neither in the base nor documented as external")
            for env in c.get("env") or []:
                vf = env.get("valueFrom") or {}
                if "configMapKeyRef" in vf:
                    ref = vf["configMapKeyRef"]
                    cm = index.get(("ConfigMap", ns, ref["name"]))
                    if cm is None:
                        report.error(where, f"{label}: {owner}: ConfigMap {ref['name']!r} not in the base")
                    elif ref["key"] not in (cm[0].get("data") or {}):
                        report.error(where, f"{label}: {owner}: ConfigMap {ref['name']!r} has no key {ref['key']!r}")
                if "secretKeyRef" in vf:
                    ref = vf["secretKeyRef"]
                    if not (exists("Secret", ns, ref["name"]) or (ns, ref["name"]) in EXTERNAL_SECRETS or ref.get("optional")):
                        report.error(where, f"{label}: {owner}: Secret {ref['name']!r} neither in the base nor documented as external")
            mounts = {m["name"] for m in c.get("volumeMounts") or []}
            vols = {v["name"] for v in podspec.get("volumes") or []}
            for m in sorted(mounts - vols):
                report.error(where, f"{label}: {owner}: volumeMount {m!r} has no volume")
            image = c.get("image", "")
            pinned = {i["name"] for i in kustomization.get("images") or []}
            if image and image not in pinned and not any(image.startswith(p + ":") or image.startswith(p + "@") for p in pinned):
                report.error(where, f"{label}: {owner}: image {image!r} is not set by the kustomization's images")
        for v in podspec.get("volumes") or []:
            if "configMap" in v and not exists("ConfigMap", ns, v["configMap"]["name"]) and not v["configMap"].get("optional"):
                report.error(where, f"{label}: {owner}: ConfigMap volume {v['configMap']['name']!r} not in the base")
            if "secret" in v:
                s = v["secret"]["secretName"]
                if not (exists("Secret", ns, s) or (ns, s) in EXTERNAL_SECRETS or v["secret"].get("optional")):
                    report.error(where, f"{label}: {owner}: Secret volume {s!r} neither in the base nor documented as external")

    def matching_pods(ns: str, selector: dict) -> list:
        return [p for p in pods if p[0] == ns and selector_matches(selector, p[1])]

    for d, where in objects:
        kind = d.get("kind")
        md = d.get("metadata") or {}
        ns, name = md.get("namespace", ""), md.get("name")
        spec = d.get("spec") or {}
        if kind == "Service" and spec.get("selector"):
            matched = matching_pods(ns, {"matchLabels": spec["selector"]})
            if not matched:
                report.error(where, f"{label}: Service {name}: selector matches no pod template")
            for port in spec.get("ports") or []:
                tp = port.get("targetPort")
                if isinstance(tp, str) and not any(any(cp.get("name") == tp for c in p[2].get("containers") or [] for cp in c.get("ports") or []) for p in matched):
                    report.error(where, f"{label}: Service {name}: targetPort {tp!r} is not a named container port")
        if kind == "PodDisruptionBudget" and not matching_pods(ns, spec.get("selector") or {}):
            report.error(where, f"{label}: PodDisruptionBudget {name}: selector matches no pod template")
        if kind == "NetworkPolicy":
            sel = spec.get("podSelector") or {}
            if sel and not matching_pods(ns, sel):
                report.error(where, f"{label}: NetworkPolicy {name}: podSelector matches no pod template")
        if kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef") or {}
            if not exists(ref.get("kind"), ns, ref.get("name")):
                report.error(where, f"{label}: HPA {name}: target {ref.get('kind')} {ref.get('name')} not in the base")
        if kind == "ScaledObject":
            ref = spec.get("scaleTargetRef") or {}
            if not exists(ref.get("kind", "Deployment"), ns, ref.get("name")):
                report.error(where, f"{label}: ScaledObject {name}: target {ref.get('name')} not in the base")
            for t in spec.get("triggers") or []:
                auth = (t.get("authenticationRef") or {}).get("name")
                if auth and not exists("TriggerAuthentication", ns, auth):
                    report.error(where, f"{label}: ScaledObject {name}: TriggerAuthentication {auth!r} not in the base")
        if kind in {"RoleBinding", "ClusterRoleBinding"}:
            ref = d.get("roleRef") or {}
            role_ns = ns if ref.get("kind") == "Role" else ""
            if ref.get("kind") == "Role" and not exists("Role", role_ns, ref.get("name")):
                report.error(where, f"{label}: {kind} {name}: Role {ref.get('name')!r} not in the base")
            for s in d.get("subjects") or []:
                if s.get("kind") == "ServiceAccount" and not exists("ServiceAccount", s.get("namespace", ns), s.get("name")):
                    report.error(where, f"{label}: {kind} {name}: ServiceAccount {s.get('namespace', ns)}/{s.get('name')} not in the base")


def validate(root: Path, use_kubectl: bool = True, quiet: bool = False) -> Report:
    """Validates the tree at root; prints a summary unless quiet."""
    report = Report()
    schemas = Schemas(root)
    rel = lambda p: os.path.relpath(p, REPO)  # noqa: E731

    manifest_files = sorted(
        p for p in root.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file() and "schemas" not in p.relative_to(root).parts
    )
    all_docs: list[tuple[dict, str]] = []
    patch_docs: set[str] = set()
    for path in manifest_files:
        if path.name in {"kustomization.yaml", "kustomization.yml"}:
            k = (load_docs(path, report) or [{}])[0]
            for p in (k.get("patches") or []) + [{"path": x} for x in (k.get("patchesStrategicMerge") or []) if isinstance(x, str)]:
                if isinstance(p, dict) and "path" in p:
                    PATCH_FILES.add((path.parent / p["path"]).resolve())
    for path in manifest_files:
        for i, doc in enumerate(load_docs(path, report)):
            all_docs.append((doc, f"{rel(path)}#{i}"))
            if is_patch_file(path):
                patch_docs.add(f"{rel(path)}#{i}")
    # XRDs in the tree define kinds that later documents may use.
    for doc, where in all_docs:
        if isinstance(doc, dict) and doc.get("kind") == "CompositeResourceDefinition":
            schemas.add_xrd(doc, f"CRD from XRD {where}")
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            schemas.add_crd(doc, f"CRD {where}")
    for doc, where in all_docs:
        validate_doc(doc, where, schemas, report, partial=where in patch_docs)

    # Kustomizations: resolve, check references, and make sure no manifest file is orphaned.
    referenced: set[Path] = set()
    kustomizations = [p for p in manifest_files if p.name in {"kustomization.yaml", "kustomization.yml"}]
    for kpath in kustomizations:
        kdoc = (load_docs(kpath, report) or [{}])[0]
        files: set[Path] = set()
        objects = resolve_kustomization(kpath.resolve(), report, set(), files, with_components=False)
        referenced |= files
        if kdoc.get("kind") == "Kustomization" and kpath.parent.resolve() == root:
            cross_check(objects, kdoc, report, "base")
            # The base with every optional component enabled must stay consistent too.
            comps = sorted(p for p in kustomizations if (load_docs(p, report) or [{}])[0].get("kind") == "Component")
            if comps:
                extra: list[tuple[dict, str]] = []
                for c in comps:
                    extra.extend(resolve_kustomization(c.resolve(), report, set(), set(), with_components=True))
                deleted = {(d.get("kind"), d["metadata"]["name"]) for d in yaml_deletes(comps)}
                merged = [(d, w) for d, w in objects if (d.get("kind"), (d.get("metadata") or {}).get("name")) not in deleted] + extra
                cross_check(merged, kdoc, report, "base+components")
        if not quiet:
            print(f"kustomization {rel(kpath)}: {len(objects)} objects")
    for path in manifest_files:
        if path.resolve() not in referenced:
            report.warn(rel(path), "not referenced by any kustomization.yaml")

    rendered = 0
    kubectl = shutil.which("kubectl") if use_kubectl else None
    if kubectl and (root / "kustomization.yaml").exists():
        proc = subprocess.run([kubectl, "kustomize", str(root)], capture_output=True, text=True)
        if proc.returncode != 0:
            report.error("kubectl kustomize", proc.stderr.strip()[:2000])
        else:
            for i, doc in enumerate(yaml.safe_load_all(proc.stdout)):
                if doc is not None:
                    validate_doc(doc, f"(kubectl kustomize)#{i}", schemas, report)
                    rendered += 1
    elif not kubectl and use_kubectl:
        report.warn("kubectl", "not on PATH: the base was resolved by this script only, not rendered by kustomize")

    report.total = len(all_docs)
    report.files = len(manifest_files)
    report.rendered = rendered
    if not quiet:
        print_report(report)
    return report


def print_report(report: Report) -> None:
    for w in report.warnings:
        print(f"warning: {w}")
    for e in report.errors:
        print(f"error: {e}", file=sys.stderr)
    by = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items()))
    print(f"validate-manifests: {report.total} documents in {report.files} files; valid by schema: {by}")
    if report.rendered:
        print(f"validate-manifests: `kubectl kustomize` rendered {report.rendered} objects (included in the counts above)")


# Self-test: each mutation of a copy of the tree must produce an error containing `expect`.
MUTATIONS = [
    ("api/deployment.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSecond: 30", "'terminationGracePeriodSecond' was unexpected"),
    ("api/deployment.yaml", "containerPort: 8080", "containerPort: \"8080\"", "is not of type 'integer'"),
    ("workers/task-deployment.yaml", "serviceAccountName: forge-worker", "serviceAccountName: forge-wrker", "ServiceAccount 'forge-wrker' not in the base"),
    ("api/service.yaml", "targetPort: http", "targetPort: htp", "targetPort 'htp' is not a named container port"),
    ("workers/hpa.yaml", "name: forge-worker-task\n  minReplicas", "name: forge-worker-tsk\n  minReplicas", "target Deployment forge-worker-tsk not in the base"),
    ("workers/pdb.yaml", "matchLabels:\n      app.kubernetes.io/name: forge-worker-task", "matchLabels:\n      app.kubernetes.io/name: forge-worker-tusk", "selector matches no pod template"),
    ("kustomization.yaml", "  - api/pdb.yaml", "  - api/pdb-missing.yaml", "resource 'api/pdb-missing.yaml' does not exist"),
    ("api/migrate-job.yaml", "name: forge-api-database", "name: forge-api-db", "Secret 'forge-api-db' neither in the base nor documented as external"),
    ("workers/discovery-deployment.yaml", "image: forge-worker", "image: forge-wrkr", "image 'forge-wrkr' is not set by the kustomization's images"),
    ("pipelines/rbac.yaml", "  name: pipeline-workflow-runner\nsubjects:", "  name: pipeline-runner\nsubjects:", "Role 'pipeline-runner' not in the base"),
    ("optional/keda/scaledobjects.yaml", "name: forge-worker-aws\n      metadata:\n        queueURL: https://sqs.us-east-1.amazonaws.com/111122223333/forge-tasks", "name: forge-worker-awz\n      metadata:\n        queueURL: https://sqs.us-east-1.amazonaws.com/111122223333/forge-tasks", "TriggerAuthentication 'forge-worker-awz' not in the base"),
    ("namespaces.yaml", "kind: Namespace\nmetadata:\n  name: forge\n", "kind: Namespaces\nmetadata:\n  name: forge\n", "unknown kind v1/Namespaces"),
]


def self_test(root: Path) -> int:
    import tempfile

    failures = 0
    baseline = validate(root, use_kubectl=False, quiet=True)
    if baseline.errors:
        print("validate-manifests self-test: the tree itself has errors; fix them first", file=sys.stderr)
        return 1
    for rel_file, old, new, expect in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "deploy"
            shutil.copytree(root, copy)
            target = copy / rel_file
            text = target.read_text()
            if old not in text:
                print(f"self-test: {rel_file}: pattern {old!r} not found (update MUTATIONS)", file=sys.stderr)
                failures += 1
                continue
            target.write_text(text.replace(old, new, 1))
            rep = validate(copy, use_kubectl=False, quiet=True)
            if not any(expect in e for e in rep.errors):
                print(f"self-test: {rel_file}: {new!r} was not caught (expected {expect!r}); errors: {rep.errors}", file=sys.stderr)
                failures += 1
    print(f"validate-manifests self-test: {len(MUTATIONS) - failures}/{len(MUTATIONS)} broken variants rejected")
    return 1 if failures else 0


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = Path(args[0]).resolve() if args else REPO / "examples" / "deploy"
    if "--self-test" in sys.argv[1:] and self_test(root) != 0:
        return 1
    report = validate(root)
    if report.errors:
        print(f"validate-manifests: {len(report.errors)} error(s)", file=sys.stderr)
        return 1
    print("validate-manifests: OK")
    return 0


def yaml_deletes(component_paths: list[Path]):
    """The `$patch: delete` documents of the given components' inline patches."""
    for c in component_paths:
        k = yaml.safe_load(c.read_text()) or {}
        for p in k.get("patches") or []:
            if "patch" in p:
                pd = yaml.safe_load(p["patch"])
                if isinstance(pd, dict) and pd.get("$patch") == "delete":
                    yield pd


if __name__ == "__main__":
    sys.exit(main())
