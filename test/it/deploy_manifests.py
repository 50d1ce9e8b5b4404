#!/usr/bin/python3
"""Checks weir's deployment files (deploy/) against each other, Debian bookworm and the binaries.

Usage: deploy_manifests.py ROOT BINDIR [--self-test]

Every YAML and JSON file under deploy/ parses (duplicate keys refused); the kustomize base lists
exactly its files and only kinds and apiVersions this checker knows; probes, ports, Services,
HPAs, PDBs, ConfigMap and Secret references, Prometheus annotations and prometheus.yml agree;
the job's replicas fit its partitions; deploy/Containerfile names every image the manifests
use, from bookworm bases, with runtime packages that exist in bookworm and provide every library
the built binaries need, COPY sources that exist, a non-root user, EXPOSE and HEALTHCHECK on the
ports the manifests probe. Then each container's arguments and environment are given to its
binary where build/bin has it: to its --check-config when it has one, else only its flags are
looked up in its --help (and the output says so); a service's --check-config also says where it
would serve (its `listen` address and whether /metrics is on it), which must be every interface
on the port its probes and its Prometheus annotations name. --self-test breaks copies of the
files in known ways and requires each break to be found.
"""
import copy
import glob
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile

import yaml

# The binaries of issue 19 that a branch without the services has not built yet.
SERVICES = ["api-gateway", "activity-service", "product-service", "customer-service",
            "order-service", "product-import"]
JOB = "unique-users"
# Deployments that serve only /metrics, /healthz and /readyz (no API): a headless
# <name>-metrics Service, no Service of their own name.
METRICS_ONLY = {JOB, "product-import"}
# Binaries with an image but no Deployment: commands that run to their end (by hand or as a
# Kubernetes Job), so that every binary users run has a container target.
COMMANDS = ["weir-window", "weir-nexmark"]
# Flags the manifests pass that a binary without --check-config does not list in its --help
# yet. Each is reported when met; a binary with --check-config is judged by it alone (every
# binary of the base has one now: the table stays for binaries still to come).
PENDING_FLAGS: dict = {}
SEED_ENV = ["KAFKA_BOOTSTRAP_SERVERS", "KAFKA_INPUT_TOPIC", "KAFKA_OUTPUT_TOPIC",
            "DYNAMODB_TABLE", "AWS_REGION", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER",
            "DB_PASSWORD", "PRODUCT_API_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
SECRET_ENV = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY")
HPA_TARGETS = {"api-gateway", "activity-service"}
KNOWN_KINDS = {
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
    ("v1", "ServiceAccount"), ("v1", "PersistentVolumeClaim"), ("apps/v1", "Deployment"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
}
CONTAINER_KEYS = {
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
    "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe",
    "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
    "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce",
    "tty",
}
POD_KEYS = {
    "volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy",
    "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector",
    "serviceAccountName", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
    "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname",
    "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases", "priorityClassName",
    "priority", "dnsConfig", "readinessGates", "runtimeClassName", "enableServiceLinks",
    "preemptionPolicy", "overhead", "topologySpreadConstraints", "setHostnameAsFQDN", "os",
    "hostUsers", "schedulingGates", "resourceClaims",
}
PROBE_KEYS = {"httpGet", "exec", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds",
              "periodSeconds", "successThreshold", "failureThreshold",
              "terminationGracePeriodSeconds"}
PROBE_PATH = {"livenessProbe": "/healthz", "startupProbe": "/healthz", "readinessProbe": "/readyz"}
BOOKWORM_BASES = {"debian:bookworm", "debian:bookworm-slim"}
BUILD_ONLY = re.compile(r"(-dev|^build-essential|^gcc.*|^g\+\+.*|^clang.*|^make|^cmake|^npm|"
                        r"^nodejs|^pkg-config)$")


class Checker:
    def __init__(self, root, bindir, quiet=False):
        self.root, self.bindir, self.quiet = root, bindir, quiet
        self.errors = []

    def fail(self, msg):
        self.errors.append(msg)
        if not self.quiet:
            print("FAIL: " + msg)

    def say(self, msg):
        if not self.quiet:
            print(msg)

    def path(self, *p):
        return os.path.join(self.root, *p)


# ---- YAML with duplicate keys refused (PyYAML would keep the last one silently) -----------------
class StrictLoader(yaml.SafeLoader):
    pass


def _mapping(loader, node, deep=False):
    seen = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), k.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def check_parse(c):
    files = sorted(glob.glob(c.path("deploy", "**", "*"), recursive=True))
    docs = {}
    n = 0
    for f in files:
        rel = os.path.relpath(f, c.root)
        try:
            if f.endswith((".yaml", ".yml")):
                with open(f, encoding="utf-8") as fh:
                    docs[rel] = [d for d in yaml.load_all(fh, Loader=StrictLoader) if d is not None]
                n += 1
            elif f.endswith(".json"):
                with open(f, encoding="utf-8") as fh:
                    docs[rel] = [json.load(fh)]
                n += 1
        except (yaml.YAMLError, ValueError, UnicodeDecodeError) as e:
            c.fail("%s does not parse: %s" % (rel, str(e).replace("\n", " ")))
    c.say("ok: %d YAML and JSON files under deploy/ parsed" % n)
    return docs


# ---- quantities ---------------------------------------------------------------------------------
UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20,
         "Gi": 2**30, "Ti": 2**40}


def quantity(v):
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(v))
    return float(m.group(1)) * UNITS[m.group(2) or ""] if m else None


def subset(sel, labels):
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


# ---- the kustomize base -------------------------------------------------------------------------
def load_base(c, docs):
    base = os.path.join("deploy", "k8s", "base")
    kpath = os.path.join(base, "kustomization.yaml")
    if kpath not in docs or not docs[kpath]:
        c.fail("%s is missing or empty" % kpath)
        return None, []
    k = docs[kpath][0]
    if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
        c.fail("%s: not a kustomize.config.k8s.io/v1beta1 Kustomization" % kpath)
    known = {"apiVersion", "kind", "namespace", "resources", "images", "labels",
             "commonAnnotations", "configMapGenerator", "secretGenerator", "patches"}
    for key in k:
        if key not in known:
            c.fail("%s: unexpected field %s" % (kpath, key))
    res = k.get("resources") or []
    if len(set(res)) != len(res):
        c.fail("%s lists a file twice" % kpath)
    objs = []
    for r in res:
        rel = os.path.normpath(os.path.join(base, r))
        if not os.path.isfile(c.path(rel)):
            c.fail("%s lists %s, which does not exist" % (kpath, r))
            continue
        for d in docs.get(rel, []):
            objs.append((rel, d))
    on_disk = {os.path.basename(f) for f in glob.glob(c.path(base, "*.yaml"))}
    for f in sorted(on_disk - set(res) - {"kustomization.yaml"}):
        c.fail("%s/%s is not listed in the kustomization (it would never be applied)" % (base, f))
    c.say("ok: kustomization lists %d files, %d objects" % (len(res), len(objs)))
    return k, objs


def check_objects(c, k, objs):
    ns = k.get("namespace")
    if ns != "weir":
        c.fail("kustomization namespace is %r, not weir (prometheus.yml's DNS names)" % ns)
    seen = set()
    for rel, o in objs:
        if not isinstance(o, dict):
            c.fail("%s: a document is not a mapping" % rel)
            continue
        av, kind = o.get("apiVersion"), o.get("kind")
        name = (o.get("metadata") or {}).get("name")
        if (av, kind) not in KNOWN_KINDS:
            c.fail("%s: unknown kind/apiVersion %s %s" % (rel, av, kind))
        if not name:
            c.fail("%s: a %s without metadata.name" % (rel, kind))
        if (kind, name) in seen:
            c.fail("%s: %s %s defined twice" % (rel, kind, name))
        seen.add((kind, name))
        onns = (o.get("metadata") or {}).get("namespace")
        if onns not in (None, ns):
            c.fail("%s: %s %s in namespace %s" % (rel, kind, name, onns))
        for where in ("labels", "annotations"):
            for key, v in ((o.get("metadata") or {}).get(where) or {}).items():
                if not isinstance(v, str):
                    c.fail("%s: %s %s: %s value %s=%r is not a string"
                           % (rel, kind, name, where, key, v))


def by_kind(objs, kind):
    return {o["metadata"]["name"]: o for _, o in objs
            if isinstance(o, dict) and o.get("kind") == kind
            and (o.get("metadata") or {}).get("name")}


# ---- Deployments, containers, probes, env -------------------------------------------------------
def template(dep):
    return (dep.get("spec") or {}).get("template") or {}


def containers(dep):
    return (template(dep).get("spec") or {}).get("containers") or []


def pod_labels(dep):
    return (template(dep).get("metadata") or {}).get("labels") or {}


def port_of(cont, ref):
    """The containerPort number that a probe's or Service's port (name or number) names."""
    for p in cont.get("ports") or []:
        if ref == p.get("name") or ref == p.get("containerPort"):
            return p.get("containerPort")
    return None


def check_deployments(c, objs, stages):
    deps = by_kind(objs, "Deployment")
    cms = {n: dict(o.get("data") or {}) for n, o in by_kind(objs, "ConfigMap").items()}
    secs = {}
    for n, o in by_kind(objs, "Secret").items():
        secs[n] = dict(o.get("stringData") or {})
        secs[n].update(o.get("data") or {})
        for key, v in secs[n].items():
            if v != "change-me":
                c.fail("Secret %s key %s holds a value other than the placeholder change-me: "
                       "the base must not carry a credential" % (n, key))
    for n, data in cms.items():
        for key, v in data.items():
            if not isinstance(v, str):
                c.fail("ConfigMap %s: %s=%r is not a string (the API server refuses it)"
                       % (n, key, v))
    pvcs = by_kind(objs, "PersistentVolumeClaim")
    for want in [JOB] + SERVICES:
        if want not in deps:
            c.fail("no Deployment %s" % want)
    env_seen = {}
    out = {}
    for name, d in sorted(deps.items()):
        spec = d.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        if not subset(sel, pod_labels(d)):
            c.fail("Deployment %s: selector %s does not match its pod labels" % (name, sel))
        for key, v in ((template(d).get("metadata") or {}).get("annotations") or {}).items():
            if not isinstance(v, str):
                c.fail("Deployment %s: pod annotation %s=%r is not a string" % (name, key, v))
        pod = (spec.get("template") or {}).get("spec") or {}
        for key in pod:
            if key not in POD_KEYS:
                c.fail("Deployment %s: unknown pod spec field %s" % (name, key))
        psc = pod.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True or not isinstance(psc.get("runAsUser"), int) \
                or psc.get("runAsUser") == 0:
            c.fail("Deployment %s: pod securityContext needs runAsNonRoot: true and a non-zero "
                   "runAsUser" % name)
        vols = {v.get("name"): v for v in pod.get("volumes") or []}
        for v in vols.values():
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in pvcs:
                c.fail("Deployment %s: volume %s claims %s, which the base does not define"
                       % (name, v.get("name"), claim))
        conts = containers(d)
        if len(conts) != 1:
            c.fail("Deployment %s: expected one container, found %d" % (name, len(conts)))
        for cont in conts:
            cn = cont.get("name")
            for key in cont:
                if key not in CONTAINER_KEYS:
                    c.fail("Deployment %s container %s: unknown field %s" % (name, cn, key))
            img = str(cont.get("image", ""))
            m = re.fullmatch(r"weir/([a-z0-9-]+)(?::[A-Za-z0-9._-]+)?", img)
            target = m.group(1) if m else None
            if not target or target not in stages:
                c.fail("Deployment %s: image %r is not weir/<a target of deploy/Containerfile>"
                       % (name, img))
            # Resources: both requests and limits, for CPU and memory, requests within limits.
            res = cont.get("resources") or {}
            for r in ("cpu", "memory"):
                rq = quantity((res.get("requests") or {}).get(r))
                lm = quantity((res.get("limits") or {}).get(r))
                if rq is None or lm is None:
                    c.fail("Deployment %s: %s request and limit must both be set" % (name, r))
                elif rq > lm:
                    c.fail("Deployment %s: %s request above its limit" % (name, r))
            sc = cont.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is not False or \
                    sc.get("readOnlyRootFilesystem") is not True or \
                    "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                c.fail("Deployment %s: container securityContext needs allowPrivilegeEscalation: "
                       "false, readOnlyRootFilesystem: true, capabilities.drop [ALL]" % name)
            for vm in cont.get("volumeMounts") or []:
                if vm.get("name") not in vols:
                    c.fail("Deployment %s: volumeMount %s has no volume" % (name, vm.get("name")))
            # Ports and probes.
            ports = cont.get("ports") or []
            names = [p.get("name") for p in ports if p.get("name")]
            if len(set(names)) != len(names):
                c.fail("Deployment %s: port names repeat" % name)
            if ports:
                for pk in ("livenessProbe", "readinessProbe"):
                    if pk not in cont:
                        c.fail("Deployment %s serves HTTP on %s but has no %s"
                               % (name, [p.get("containerPort") for p in ports], pk))
            probed = set()
            for pk, want in PROBE_PATH.items():
                pr = cont.get(pk)
                if pr is None:
                    continue
                for key in pr:
                    if key not in PROBE_KEYS:
                        c.fail("Deployment %s %s: unknown field %s" % (name, pk, key))
                hg = pr.get("httpGet") or {}
                if hg.get("path") != want:
                    c.fail("Deployment %s: %s path is %r, not %s"
                           % (name, pk, hg.get("path"), want))
                num = port_of(cont, hg.get("port"))
                if num is None:
                    c.fail("Deployment %s: %s port %r is no declared containerPort"
                           % (name, pk, hg.get("port")))
                probed.add(num)
            # Environment: every reference resolves in the base.
            env = {}
            for e in cont.get("env") or []:
                en = e.get("name")
                if en in env:
                    c.fail("Deployment %s: env %s set twice" % (name, en))
                vf = e.get("valueFrom") or {}
                if "value" in e:
                    if not isinstance(e["value"], str):
                        c.fail("Deployment %s: env %s value %r is not a string"
                               % (name, en, e["value"]))
                    env[en] = ("value", e["value"])
                    if SECRET_ENV.search(en):
                        c.fail("Deployment %s: %s is a plain value, not from a Secret" % (name, en))
                elif "configMapKeyRef" in vf:
                    ref = vf["configMapKeyRef"]
                    if ref.get("name") not in cms:
                        c.fail("Deployment %s: env %s from ConfigMap %s, not in the base"
                               % (name, en, ref.get("name")))
                    elif ref.get("key") not in cms[ref["name"]]:
                        c.fail("Deployment %s: env %s from key %s, not in ConfigMap %s"
                               % (name, en, ref.get("key"), ref["name"]))
                    else:
                        env[en] = ("configmap", cms[ref["name"]][ref["key"]])
                    if SECRET_ENV.search(en):
                        c.fail("Deployment %s: %s comes from a ConfigMap, not a Secret"
                               % (name, en))
                elif "secretKeyRef" in vf:
                    ref = vf["secretKeyRef"]
                    if ref.get("name") not in secs:
                        c.fail("Deployment %s: env %s from Secret %s, not in the base"
                               % (name, en, ref.get("name")))
                    elif ref.get("key") not in secs[ref["name"]]:
                        c.fail("Deployment %s: env %s from key %s, not in Secret %s"
                               % (name, en, ref.get("key"), ref["name"]))
                    else:
                        env[en] = ("secret", secs[ref["name"]][ref["key"]])
                else:
                    c.fail("Deployment %s: env %s has neither a value nor a known valueFrom"
                           % (name, en))
                env_seen.setdefault(en, set()).add(name)
            for ef in cont.get("envFrom") or []:
                if "configMapRef" in ef and ef["configMapRef"].get("name") not in cms:
                    c.fail("Deployment %s: envFrom ConfigMap %s not in the base"
                           % (name, ef["configMapRef"].get("name")))
                if "secretRef" in ef and ef["secretRef"].get("name") not in secs:
                    c.fail("Deployment %s: envFrom Secret %s not in the base"
                           % (name, ef["secretRef"].get("name")))
            args = [str(a) for a in (cont.get("command") or []) + (cont.get("args") or [])]
            for a in args:
                for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
                    if var not in env:
                        c.fail("Deployment %s: argument %r expands $(%s), which the container's "
                               "env does not define (Kubernetes would pass it literally)"
                               % (name, a, var))
            # Prometheus annotations name a declared port, on /metrics.
            ann = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
            if ann.get("prometheus.io/scrape") == "true":
                pp = ann.get("prometheus.io/port")
                if not pp or not pp.isdigit() or port_of(cont, int(pp)) is None:
                    c.fail("Deployment %s: prometheus.io/port %r is no declared containerPort"
                           % (name, pp))
                if ann.get("prometheus.io/path") != "/metrics":
                    c.fail("Deployment %s: prometheus.io/path is not /metrics" % name)
            elif ports:
                c.fail("Deployment %s serves HTTP but is not annotated for scraping" % name)
            out[name] = {"dep": d, "cont": cont, "target": target, "env": env, "args": args,
                         "ports": {p.get("containerPort") for p in ports}, "probed": probed,
                         "scrape": ann.get("prometheus.io/port")}
    for v in SEED_ENV:
        if v not in env_seen:
            c.fail("no container takes the seeds' variable %s" % v)
    c.say("ok: %d Deployments checked (images, resources, securityContext, probes, env)"
          % len(deps))
    return out, cms, secs


def check_services(c, objs, info):
    svcs = by_kind(objs, "Service")
    for sname, s in sorted(svcs.items()):
        spec = s.get("spec") or {}
        sel = spec.get("selector") or {}
        matches = [n for n, i in info.items() if subset(sel, pod_labels(i["dep"]))]
        if not matches:
            c.fail("Service %s: selector %s matches no Deployment's pods" % (sname, sel))
            continue
        for p in spec.get("ports") or []:
            tp = p.get("targetPort", p.get("port"))
            for n in matches:
                if port_of(info[n]["cont"], tp) is None:
                    c.fail("Service %s: targetPort %r is no containerPort of %s" % (sname, tp, n))
    for n, i in info.items():
        if not i["ports"]:
            continue
        m = svcs.get(n + "-metrics")
        if not m or (m.get("spec") or {}).get("clusterIP") != "None":
            c.fail("Deployment %s has no headless Service %s-metrics" % (n, n))
        if n not in METRICS_ONLY and n not in svcs:
            c.fail("service %s has no Service of its own name" % n)
    c.say("ok: %d Services match their Deployments' pods and ports" % len(svcs))
    return svcs


def check_prometheus(c, docs, k, info, svcs):
    rel = os.path.join("deploy", "prometheus", "prometheus.yml")
    prom = (docs.get(rel) or [None])[0]
    if not isinstance(prom, dict):
        c.fail("%s missing" % rel)
        return
    jobs = {}
    for sc in prom.get("scrape_configs") or []:
        for dsd in sc.get("dns_sd_configs") or []:
            for nm in dsd.get("names") or []:
                jobs[sc.get("job_name")] = (nm, dsd.get("port"))
    for n, i in sorted(info.items()):
        if not i["ports"]:
            continue
        if n not in jobs:
            c.fail("prometheus.yml has no scrape job %s" % n)
            continue
        nm, port = jobs[n]
        want = "%s-metrics.%s.svc.cluster.local" % (n, k.get("namespace"))
        if nm != want:
            c.fail("prometheus.yml job %s resolves %s, not %s" % (n, nm, want))
        if str(port) != i["scrape"]:
            c.fail("prometheus.yml job %s scrapes port %s, the pods are annotated %s"
                   % (n, port, i["scrape"]))
        ms = svcs.get(n + "-metrics")
        if ms and port not in [p.get("port") for p in (ms.get("spec") or {}).get("ports") or []]:
            c.fail("Service %s-metrics does not carry port %s" % (n, port))
    for j in jobs:
        if j not in info:
            c.fail("prometheus.yml scrapes %s, which no Deployment runs" % j)
    c.say("ok: prometheus.yml scrapes every HTTP Deployment on its annotated port")


def check_hpas(c, objs, info):
    hpas = by_kind(objs, "HorizontalPodAutoscaler")
    targets = set()
    for n, h in sorted(hpas.items()):
        spec = h.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        t = ref.get("name")
        targets.add(t)
        if ref.get("kind") != "Deployment" or ref.get("apiVersion") != "apps/v1" or t not in info:
            c.fail("HPA %s: scaleTargetRef %s names no Deployment of the base" % (n, ref))
            continue
        if spec.get("minReplicas") != 2 or spec.get("maxReplicas") != 10:
            c.fail("HPA %s: replicas %s..%s, not 2..10"
                   % (n, spec.get("minReplicas"), spec.get("maxReplicas")))
        got = {}
        for m in spec.get("metrics") or []:
            r = m.get("resource") or {}
            tg = r.get("target") or {}
            if m.get("type") == "Resource" and tg.get("type") == "Utilization":
                got[r.get("name")] = tg.get("averageUtilization")
        if got != {"cpu": 60, "memory": 70}:
            c.fail("HPA %s: targets %s, not cpu 60%% and memory 70%%" % (n, got))
        if "replicas" in (info[t]["dep"].get("spec") or {}):
            c.fail("Deployment %s sets replicas although HPA %s owns the count" % (t, n))
    if targets != HPA_TARGETS:
        c.fail("HPAs target %s, expected %s" % (sorted(targets), sorted(HPA_TARGETS)))
    if JOB in targets:
        c.fail("an HPA scales the job, whose replicas the partitions bound")
    c.say("ok: %d HPAs (autoscaling/v2, 2..10, CPU 60%%, memory 70%%) target %s"
          % (len(hpas), ", ".join(sorted(targets))))
    return {n: h["spec"] for n, h in hpas.items()}


def check_pdbs(c, objs, info, hpas):
    pdbs = by_kind(objs, "PodDisruptionBudget")
    covered = set()
    for n, p in sorted(pdbs.items()):
        spec = p.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        matches = [d for d, i in info.items() if subset(sel, pod_labels(i["dep"]))]
        if len(matches) != 1:
            c.fail("PDB %s: selector %s matches %d Deployments, not one" % (n, sel, len(matches)))
            continue
        d = matches[0]
        covered.add(d)
        if ("minAvailable" in spec) == ("maxUnavailable" in spec):
            c.fail("PDB %s: exactly one of minAvailable and maxUnavailable" % n)
        replicas = (info[d]["dep"].get("spec") or {}).get("replicas")
        low = min((h.get("minReplicas", 1) for h in hpas.values()
                   if (h.get("scaleTargetRef") or {}).get("name") == d), default=replicas or 1)
        ma = spec.get("minAvailable")
        if isinstance(ma, int) and ma >= low:
            c.fail("PDB %s: minAvailable %d leaves no pod of %s (%d replicas) evictable: drains "
                   "would block" % (n, ma, d, low))
    for d in info:
        if d not in covered:
            c.fail("Deployment %s has no PodDisruptionBudget" % d)
    c.say("ok: %d PDBs, one per Deployment, none blocking a drain" % len(pdbs))


def dev_broker_partitions(c, topic):
    exe = os.path.join(c.bindir, "weir-dev-broker")
    text = ""
    if os.access(exe, os.X_OK):
        text = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=20).stdout
    else:
        src = c.path("jobs", "weir-dev-broker.c")
        text = open(src).read() if os.path.exists(src) else ""
    m = re.search(re.escape(topic) + r":([0-9]+)", text)
    return int(m.group(1)) if m else None


def check_job(c, info, cms):
    i = info.get(JOB)
    if not i:
        return
    d = i["dep"]
    spec = d.get("spec") or {}
    ann = (d.get("metadata") or {}).get("annotations") or {}
    try:
        parts = int(ann.get("weir/input-partitions"))
    except (TypeError, ValueError):
        c.fail("Deployment %s: annotation weir/input-partitions is not an integer" % JOB)
        return
    topic = None
    args = i["args"]
    if "--input-topic" in args and args.index("--input-topic") + 1 < len(args):
        topic = args[args.index("--input-topic") + 1]
        topic = re.sub(r"\$\(([A-Za-z0-9_]+)\)",
                       lambda m: i["env"].get(m.group(1), ("", ""))[1], topic)
    dev = dev_broker_partitions(c, topic or "ecom-raw-events")
    if dev is not None and dev != parts:
        c.fail("Deployment %s: weir/input-partitions %d, but %s has %d partitions in "
               "weir-dev-broker" % (JOB, parts, topic, dev))
    replicas = spec.get("replicas", 1)
    ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    rolling = (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
    surge = ru.get("maxSurge", "25%") if rolling else 0
    if isinstance(surge, str):
        pct = int(surge.rstrip("%"))
        surge = -(-replicas * pct // 100)
    if not isinstance(replicas, int) or replicas < 1 or replicas > parts:
        c.fail("Deployment %s: replicas %r, not 1..%d (one consumer per partition at most)"
               % (JOB, replicas, parts))
    elif replicas + surge > parts:
        c.fail("Deployment %s: %d replicas + %d surge exceed the %d partitions during a rollout"
               % (JOB, replicas, surge, parts))
    if "--group-id" not in args:
        c.fail("Deployment %s: no --group-id: its replicas must share one consumer group" % JOB)
    c.say("ok: job %s: %d replicas (+%d surge) <= %d partitions of %s, one consumer group"
          % (JOB, replicas, surge, parts, topic))


# ---- deploy/Containerfile -----------------------------------------------------------------------
def parse_containerfile(text):
    """[(instruction, rest)] with continuations joined and comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#") or (not s and not cur):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        if cur.strip():
            word, _, rest = cur.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def apt_packages(run):
    pkgs, no_rec = [], True
    for seg in re.split(r"&&|;|\|\|", run):
        toks = shlex.split(seg)
        if "apt-get" in toks and "install" in toks:
            rest = toks[toks.index("install") + 1:]
            if "--no-install-recommends" not in rest:
                no_rec = False
            pkgs += [t for t in rest if not t.startswith("-")]
    return pkgs, no_rec


_madison = {}


def in_bookworm(pkgs):
    """The packages of `pkgs` that bookworm's main component has, in one apt-cache call."""
    todo = [p for p in pkgs if p not in _madison]
    if todo:
        r = subprocess.run(["apt-cache", "madison"] + todo, capture_output=True, text=True)
        for p in todo:
            _madison[p] = False
        for line in r.stdout.splitlines():
            f = [x.strip() for x in line.split("|")]
            if len(f) == 3 and f[0] in _madison and \
                    re.search(r"\bbookworm(-security|-updates)?/main\b", f[2]):
                _madison[f[0]] = True
    return {p for p in pkgs if _madison[p]}


def check_containerfile(c):
    cf = c.path("deploy", "Containerfile")
    if not os.path.exists(cf):
        c.fail("deploy/Containerfile missing")
        return {}
    ins = parse_containerfile(open(cf).read())
    args, stages, cur = {}, {}, None
    for word, rest in ins:
        if word == "ARG" and cur is None:
            k, _, v = rest.partition("=")
            args[k] = v
        elif word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            if not m:
                c.fail("Containerfile: cannot read FROM %s" % rest)
                continue
            base = re.sub(r"\$\{?([A-Za-z_]+)\}?", lambda x: args.get(x.group(1), "?"), m.group(1))
            cur = m.group(2) or "stage%d" % len(stages)
            if cur in stages:
                c.fail("Containerfile: stage %s defined twice" % cur)
            stages[cur] = {"base": base, "ins": []}
        elif cur is not None:
            stages[cur]["ins"].append((word, rest))
        else:
            c.fail("Containerfile: %s before the first FROM" % word)
    if "build" not in stages:
        c.fail("Containerfile: no build stage")
        return {}
    runs = " ".join(r for w, r in stages["build"]["ins"] if w == "RUN")
    if "make deps" not in runs or not re.search(r"make\b[^&;]*\ball\b", runs):
        c.fail("Containerfile: the build stage does not run `make deps` and `make all`")

    def chain(s):
        seen = []
        while s in stages and s not in seen:
            seen.append(s)
            s = stages[s]["base"]
        return seen, s

    used_as_base = {st["base"] for st in stages.values()}
    finals = {n for n in stages if n not in used_as_base and n != "build"}
    pkgs_all = set()
    for n in stages:
        ch, ext = chain(n)
        if ext.split("@")[0] not in BOOKWORM_BASES:
            c.fail("Containerfile: stage %s starts from %s, not Debian bookworm" % (n, ext))
        if n in finals and "build" in ch:
            c.fail("Containerfile: target %s is built on the build stage (compilers in the image)"
                   % n)
    for n in sorted(finals):
        ch, _ = chain(n)
        pk = []
        for s in ch:
            for w, r in stages[s]["ins"]:
                if w == "RUN":
                    p, no_rec = apt_packages(r)
                    pk += p
                    if p and not no_rec:
                        c.fail("Containerfile: stage %s installs without --no-install-recommends"
                               % s)
        stages[n]["packages"] = set(pk)
        pkgs_all |= set(pk)
        for p in pk:
            if BUILD_ONLY.search(p):
                c.fail("Containerfile: target %s installs %s, a build-time package" % (n, p))
        own = stages[n]["ins"]
        users = [r for w, r in own if w == "USER"]
        if not users or not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]):
            c.fail("Containerfile: target %s has no numeric non-root USER" % n)
        else:
            stages[n]["uid"] = int(users[-1].split(":")[0])
        eps = [r for w, r in own if w == "ENTRYPOINT"]
        try:
            ep = json.loads(eps[-1]) if eps else []
        except ValueError:
            ep = []
        if ep[:1] != ["/usr/local/bin/" + n]:
            c.fail("Containerfile: target %s's ENTRYPOINT is not [\"/usr/local/bin/%s\"]" % (n, n))
        stages[n]["expose"] = {int(p.split("/")[0])
                               for w, r in own if w == "EXPOSE" for p in r.split()}
        hc = [r for w, r in own if w == "HEALTHCHECK"]
        stages[n]["health"] = None
        if hc:
            m = re.search(r"CMD\s+(\[.*\])\s*$", hc[-1])
            cmd = json.loads(m.group(1)) if m else []
            if len(cmd) == 3 and cmd[0] == "/usr/local/bin/weir-healthcheck" and cmd[1].isdigit():
                stages[n]["health"] = (int(cmd[1]), cmd[2])
            else:
                c.fail("Containerfile: target %s: HEALTHCHECK is not weir-healthcheck PORT PATH"
                       % n)
    found = in_bookworm(sorted(pkgs_all))
    for p in sorted(pkgs_all - found):
        c.fail("Containerfile: package %s is not in Debian bookworm (apt-cache madison)" % p)
    c.say("ok: Containerfile: %d stages, targets %s; %d runtime packages found in bookworm/main: %s"
          % (len(stages), ", ".join(sorted(finals)), len(pkgs_all), " ".join(sorted(pkgs_all))))
    # COPY sources: the context is the repository's root; --from=build reads /src, its copy.
    for n, st in stages.items():
        for w, r in st["ins"]:
            if w not in ("COPY", "ADD"):
                continue
            toks = shlex.split(r)
            frm = [t.split("=", 1)[1] for t in toks if t.startswith("--from=")]
            srcs = [t for t in toks if not t.startswith("--")][:-1]
            for s in srcs:
                if not frm:
                    if s != "." and not glob.glob(c.path(s)):
                        c.fail("Containerfile: COPY source %s (stage %s) is not in the repository"
                               % (s, n))
                    continue
                if frm[0] not in stages:
                    c.fail("Containerfile: COPY --from=%s names no stage" % frm[0])
                    continue
                rel = os.path.relpath(s, "/src")
                if rel.startswith(".."):
                    c.fail("Containerfile: COPY --from=%s %s is outside the build's /src"
                           % (frm[0], s))
                elif os.path.exists(c.path(rel)):
                    c.say("ok: COPY --from=build %s: %s is built here" % (s, rel))
                elif re.fullmatch(r"build/bin/(.+)", rel) and rel.split("/")[-1] in SERVICES:
                    c.say("note: COPY --from=build %s: %s is not built on this branch yet "
                          "(issue 19's services)" % (s, rel))
                else:
                    c.fail("Containerfile: COPY --from=build %s: make all builds no %s" % (s, rel))
    return {n: stages[n] for n in finals}


_base_image = set()


def base_image_packages():
    """What debian:bookworm-slim holds: the Essential and required packages (as installed here,
    a bookworm system) and apt, with everything they depend on."""
    if not _base_image:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Essential} ${Priority}\n"],
                           capture_output=True, text=True)
        seeds = [l.split()[0] for l in r.stdout.splitlines()
                 if l.split()[1:2] == ["yes"] or l.split()[2:3] == ["required"]] + ["apt"]
        r = subprocess.run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
                            "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                            "--no-enhances"] + seeds, capture_output=True, text=True)
        for line in r.stdout.splitlines():
            m = re.match(r"^(?:\s*(?:Pre)?Depends: <?)?([a-z0-9][a-z0-9.+-]*)(?::[a-z0-9]+)?>?$",
                         line)
            if m:
                _base_image.add(m.group(1))
    return _base_image


def check_libraries(c, targets):
    """Every shared library a built binary links directly comes from its target's packages or
    the base image (apt brings what those libraries need in turn)."""
    for n, st in sorted(targets.items()):
        exe = os.path.join(c.bindir, n)
        if not os.access(exe, os.X_OK):
            c.say("note: %s is not built here: its libraries were not checked" % n)
            continue
        dyn = subprocess.run(["readelf", "-d", exe], capture_output=True, text=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dyn)
        ldd = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
        where = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
        paths = []
        for so in needed:
            if so not in where:
                c.fail("%s needs %s, which this machine cannot resolve" % (n, so))
            else:
                paths.append(os.path.realpath(where[so]))
        # Debian 12 has a merged /usr while dpkg still lists many libraries under /lib.
        alt = [re.sub(r"^/usr(?=/lib)", "", p) for p in paths]
        r = subprocess.run(["dpkg", "-S"] + paths + alt, capture_output=True, text=True)
        owner = {}
        for line in r.stdout.splitlines():
            pkg, _, path = line.partition(": ")
            owner[path.strip()] = pkg.split(":")[0]
        missing, before = [], len(c.errors)
        for so, pth in zip([s for s in needed if s in where], paths):
            pkg = owner.get(pth) or owner.get(re.sub(r"^/usr(?=/lib)", "", pth))
            if pkg is None:
                c.fail("%s needs %s (%s), which no Debian package provides" % (n, so, pth))
            elif pkg not in st["packages"] and pkg not in base_image_packages():
                missing.append("%s (%s)" % (so, pkg))
        if missing:
            c.fail("target %s lacks the runtime packages of %s" % (n, ", ".join(missing)))
        elif len(c.errors) == before:
            c.say("ok: the %d libraries build/bin/%s links (%s) come from its target's packages "
                  "or the base image" % (len(needed), n, " ".join(needed)))


def check_images_vs_pods(c, info, targets):
    for n, i in sorted(info.items()):
        t = targets.get(i["target"])
        if not t:
            continue
        if t["expose"] != i["ports"]:
            c.fail("Deployment %s declares ports %s, its image EXPOSEs %s"
                   % (n, sorted(i["ports"]), sorted(t["expose"])))
        if i["ports"] and t["health"] is None:
            c.fail("target %s serves HTTP but has no HEALTHCHECK" % n)
        if t["health"] and (t["health"][0] not in i["probed"] or t["health"][1] != "/healthz"):
            c.fail("target %s: HEALTHCHECK %s differs from the liveness probe's port"
                   % (n, t["health"]))
        uid = ((i["dep"]["spec"]["template"]["spec"]).get("securityContext") or {}).get("runAsUser")
        if t.get("uid") != uid:
            c.fail("Deployment %s runs as uid %s, its image's USER is %s" % (n, uid, t.get("uid")))
    for tn in targets:
        if tn not in {i["target"] for i in info.values()} and tn not in COMMANDS:
            c.fail("Containerfile target %s is used by no Deployment" % tn)
    for tn in COMMANDS:
        if tn not in targets:
            c.fail("Containerfile has no target %s" % tn)
        elif targets[tn]["expose"] or targets[tn]["health"]:
            c.fail("Containerfile target %s serves no HTTP: no EXPOSE or HEALTHCHECK" % tn)
    c.say("ok: images and pods agree on ports, health checks and uid")


# ---- the binaries themselves --------------------------------------------------------------------
def check_binaries(c, info):
    checked, absent = [], []
    for n, i in sorted(info.items()):
        exe = os.path.join(c.bindir, i["target"] or n)
        if not os.access(exe, os.X_OK):
            absent.append(n)
            continue
        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
        env.update({k: v for k, (_, v) in i["env"].items()})
        args = [re.sub(r"\$\(([A-Za-z0-9_]+)\)", lambda m: env.get(m.group(1), m.group(0)), a)
                for a in i["args"]]
        h = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=20, env=env)
        help_text = h.stdout + h.stderr
        with tempfile.TemporaryDirectory() as cwd:
            if re.search(r"--check-config\b", help_text):
                r = subprocess.run([exe] + args + ["--check-config"], capture_output=True,
                                   text=True, timeout=30, env=env, cwd=cwd)
                if r.returncode != 0:
                    c.fail("%s --check-config refuses the manifest's arguments (exit %d): %s"
                           % (n, r.returncode, (r.stderr or r.stdout).strip()[:400]))
                bad = subprocess.run([exe] + args + ["--no-such-flag-weir", "--check-config"],
                                     capture_output=True, text=True, timeout=30, env=env, cwd=cwd)
                if bad.returncode != 2:
                    c.fail("%s --check-config accepts an unknown flag (exit %d): it checks nothing"
                           % (n, bad.returncode))
                check_serving(c, n, i, r.stderr)
                if n == JOB:
                    check_job_env(c, i, env, r.stderr)
                checked.append("%s (--check-config)" % n)
                continue
        flags = [a for a in args if a.startswith("--")]
        pending = []
        for f in flags:
            if re.search(r"(^|[\s,\[])" + re.escape(f) + r"\b", help_text):
                continue
            if f in PENDING_FLAGS.get(n, set()):
                pending.append(f)
            else:
                c.fail("%s: the manifest passes %s, which %s --help does not list" % (n, f, exe))
        c.say("note: build/bin/%s has no --check-config yet: its %d flags were looked up in its "
              "--help only%s" % (n, len(flags),
                                 "; not accepted yet: " + " ".join(pending) if pending else ""))
        checked.append("%s (--help only)" % n)
    c.say("binaries checked: %s" % (", ".join(checked) or "none"))
    c.say("binaries not in %s (not checked): %s" % (c.bindir, ", ".join(absent) or "none"))


# The job's keys that the seeds' variables set, and the field of its `configuration ok` line.
JOB_ENV_FIELDS = {"KAFKA_BOOTSTRAP_SERVERS": "brokers", "KAFKA_INPUT_TOPIC": "input_topic",
                  "KAFKA_OUTPUT_TOPIC": "output_topic", "DYNAMODB_TABLE": "dynamodb_table",
                  "AWS_REGION": "aws_region"}


def check_job_env(c, i, env, log):
    """The job's --check-config reports the brokers, topics, table and region it would use:
    each seed variable the container sets must reach its key (or a flag must set it)."""
    fields = None
    for line in log.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("msg") == "configuration ok":
            fields = e
    if fields is None:
        c.fail("%s --check-config logs no JSON `configuration ok` line" % JOB)
        return
    for var, field in JOB_ENV_FIELDS.items():
        if var not in i["env"]:
            continue
        if fields.get(field) != env.get(var):
            c.fail("%s: %s=%r does not reach the job (--check-config says %s=%r)"
                   % (JOB, var, env.get(var), field, fields.get(field)))
    c.say("ok: %s takes %s from its environment" % (JOB, ", ".join(
        "%s=%s" % (f, fields.get(f)) for f in JOB_ENV_FIELDS.values() if f in fields)))


def check_serving(c, n, i, log):
    """A service's --check-config logs, as `configuration ok`, the address it would listen on
    and where it would serve /metrics: the pod's probes and scrape annotation must name that
    port, and it must listen on every interface (a pod's probes do not come from loopback)."""
    fields = None
    for line in log.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("msg") == "configuration ok":
            fields = e
    if fields is None or "listen" not in fields:
        if i["ports"] and n in SERVICES:
            c.fail("%s --check-config (with the manifest's --log-format json) logs no JSON "
                   "`configuration ok` line with its listen address: %s" % (n, log.strip()[:300]))
        return
    m = re.fullmatch(r"(.*):(\d+)", fields["listen"])
    host, port = (m.group(1), int(m.group(2))) if m else (None, None)
    if host not in ("0.0.0.0", "[::]", "::"):
        c.fail("Deployment %s: the binary would listen on %s, not on every interface"
               % (n, fields["listen"]))
    if port not in i["ports"]:
        c.fail("Deployment %s: the binary would listen on port %s, which is no containerPort %s"
               % (n, port, sorted(i["ports"])))
    for num in i["probed"]:
        if num != port and not (fields.get("metrics") == "port" and
                                num == fields.get("metrics_port")):
            c.fail("Deployment %s: a probe targets port %s; the binary serves /healthz and "
                   "/readyz on %s" % (n, num, port))
    serves = port if fields.get("metrics") == "listen" else fields.get("metrics_port")
    if i["scrape"] is not None and str(serves) != str(i["scrape"]):
        c.fail("Deployment %s: prometheus.io/port is %s; the binary serves /metrics on %s"
               % (n, i["scrape"], serves))
    c.say("ok: %s would listen on %s, /metrics on %s, as its probes and annotations say"
          % (n, fields["listen"], serves))


def check_kubectl(c, nobjs):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        c.say("note: kubectl is not installed: `kubectl kustomize` was not run")
        return
    r = subprocess.run([kubectl, "kustomize", c.path("deploy", "k8s", "base")],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        c.fail("kubectl kustomize deploy/k8s/base failed: %s" % r.stderr.strip()[:400])
        return
    rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
    if len(rendered) != nobjs:
        c.fail("kubectl kustomize renders %d objects, the files hold %d" % (len(rendered), nobjs))
    for d in rendered:
        if d.get("kind") != "Namespace" and d["metadata"].get("namespace") != "weir":
            c.fail("kubectl kustomize puts %s %s outside weir" % (d["kind"], d["metadata"]["name"]))
    c.say("ok: kubectl kustomize renders the base: %d objects, all in namespace weir"
          % len(rendered))


def run_all(c, binaries=True):
    docs = check_parse(c)
    k, objs = load_base(c, docs)
    if k is None:
        return
    check_objects(c, k, objs)
    targets = check_containerfile(c)
    info, cms, _ = check_deployments(c, objs, targets)
    svcs = check_services(c, objs, info)
    check_prometheus(c, docs, k, info, svcs)
    hpas = check_hpas(c, objs, info)
    check_pdbs(c, objs, info, hpas)
    check_job(c, info, cms)
    check_images_vs_pods(c, info, targets)
    if binaries:
        check_libraries(c, targets)
        check_binaries(c, info)
        check_kubectl(c, len(objs))


# ---- self-test: each break below must be found --------------------------------------------------
BREAKS = [
    ("k8s/base/api-gateway.yaml", "    name: api-gateway\n  minReplicas",
     "    name: api-gatewy\n  minReplicas", "scaleTargetRef"),
    ("k8s/base/api-gateway.yaml", "averageUtilization: 60", "averageUtilization: 80", "cpu 60%"),
    ("k8s/base/product-service.yaml", "path: /readyz", "path: /ready", "readinessProbe path"),
    ("k8s/base/order-service.yaml", "port: http\n            periodSeconds: 10",
     "port: 9090\n            periodSeconds: 10", "no declared containerPort"),
    ("k8s/base/unique-users.yaml", "  replicas: 2", "  replicas: 9", "replicas 9"),
    ("k8s/base/unique-users.yaml", "maxSurge: 0", "maxSurge: 7", "surge exceed"),
    ("k8s/base/unique-users.yaml", "key: KAFKA_OUTPUT_TOPIC", "key: KAFKA_OUTPUT_TOPICS",
     "not in ConfigMap"),
    ("k8s/base/customer-service.yaml", "key: DB_PASSWORD", "key: DB_PASS", "not in Secret"),
    ("k8s/base/config.yaml", 'DB_PORT: "5432"', "DB_PORT: 5432", "not a string"),
    ("k8s/base/secrets.yaml", "AWS_SECRET_ACCESS_KEY: change-me",
     "AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "placeholder"),
    ("k8s/base/activity-service.yaml", "  minAvailable: 1", "  minAvailable: 2", "drains"),
    ("k8s/base/activity-service.yaml",
     "  minAvailable: 1\n  selector:\n    matchLabels:\n"
     "      app.kubernetes.io/name: activity-service",
     "  minAvailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: activity",
     "PDB activity-service"),
    ("k8s/base/product-service.yaml",
     "  selector:\n    app.kubernetes.io/name: product-service\n  ports",
     "  selector:\n    app.kubernetes.io/name: products\n  ports", "matches no Deployment"),
    ("k8s/base/kustomization.yaml", "  - order-service.yaml\n", "", "not listed"),
    ("k8s/base/kustomization.yaml", "  - order-service.yaml\n", "  - orders.yaml\n",
     "does not exist"),
    ("k8s/base/api-gateway.yaml", "apiVersion: autoscaling/v2", "apiVersion: autoscaling/v2beta2",
     "unknown kind"),
    ("k8s/base/customer-service.yaml", "          readinessProbe:", "          readynessProbe:",
     "unknown field"),
    ("k8s/base/order-service.yaml", "  name: order-service\n  labels:",
     "  name: order-service\n  name: x\n  labels:", "duplicate key"),
    ("k8s/base/unique-users.yaml", "prometheus.io/port: \"9464\"", "prometheus.io/port: 9464",
     "not a string"),
    ("k8s/base/api-gateway.yaml", "- $(AWS_REGION)", "- $(AWS_REGOIN)", "does not define"),
    ("k8s/base/product-service.yaml", "readOnlyRootFilesystem: true",
     "readOnlyRootFilesystem: false",
     "readOnlyRootFilesystem"),
    ("k8s/base/unique-users.yaml", "image: weir/unique-users", "image: weir/unique-user",
     "target of deploy/Containerfile"),
    ("prometheus/prometheus.yml", "order-service-metrics.weir", "orders-metrics.weir", "resolves"),
    ("Containerfile", "libmicrohttpd12", "libmicrohttpd10", "not in Debian bookworm"),
    ("Containerfile", "FROM runtime-service AS order-service", "FROM build AS order-service",
     "built on the build stage"),
    ("Containerfile", "COPY deploy/healthcheck.sh", "COPY deploy/health.sh",
     "not in the repository"),
    ("Containerfile", "/bin/api-gateway /usr/local/bin/api-gateway\nUSER 10001:10001",
     "/bin/api-gateway /usr/local/bin/api-gateway\nUSER 0", "non-root USER"),
    ("Containerfile", "EXPOSE 9464", "EXPOSE 9465", "EXPOSEs"),
    ("Containerfile", "ARG RUNTIME_IMAGE=debian:bookworm-slim",
     "ARG RUNTIME_IMAGE=debian:bullseye-slim",
     "not Debian bookworm"),
    ("Containerfile", "        libssl3 libmicrohttpd12",
     "        libssl3 libmicrohttpd12 libssl-dev",
     "build-time package"),
    ("Containerfile", "FROM runtime-job AS weir-nexmark", "FROM runtime-job AS nexmark",
     "no target weir-nexmark"),
    ("grafana/weir.json", "{", "{,", "does not parse"),
]


def self_test(root, bindir):
    bad = 0
    for rel, old, new, expect in BREAKS:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(root, "deploy"), os.path.join(tmp, "deploy"))
            for extra in ("jobs",):
                if os.path.isdir(os.path.join(root, extra)):
                    shutil.copytree(os.path.join(root, extra), os.path.join(tmp, extra))
            f = os.path.join(tmp, "deploy", rel)
            text = open(f).read()
            if text.count(old) < 1:
                print("SELF-TEST: %s: the text to break is not there: %r" % (rel, old[:60]))
                bad += 1
                continue
            open(f, "w").write(text.replace(old, new, 1))
            c = Checker(tmp, bindir, quiet=True)
            # The repository's other files (COPY sources) are read from the real root.
            c.path = lambda *p, tmp=tmp: (os.path.join(tmp, *p) if p and p[0] == "deploy"
                                          else os.path.join(root, *p))
            try:
                run_all(c, binaries=False)
            except Exception as e:  # a crash on broken input counts as finding it
                c.errors.append("crash: %r" % e)
            hit = [e for e in c.errors if expect is None or expect in e]
            if not hit:
                print("SELF-TEST: breaking %s (%r -> %r) went unnoticed%s"
                      % (rel, old[:50], new[:50],
                         "; errors: " + "; ".join(c.errors) if c.errors else ""))
                bad += 1
            else:
                print("self-test: %s %r -> %r: %s"
                      % (rel, old.strip()[:40], new.strip()[:40], hit[0][:110]))
    print("self-test: %d of %d deliberate breaks found" % (len(BREAKS) - bad, len(BREAKS)))
    return bad == 0


def main():
    root, bindir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    c = Checker(root, bindir)
    run_all(c)
    ok = not c.errors
    if "--self-test" in sys.argv[3:]:
        ok = self_test(root, bindir) and ok
    print("deploy_manifests: %d problems" % len(c.errors))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
