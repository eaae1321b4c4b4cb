#!/usr/bin/python3
"""`omnibase env render` / `template render --backend kubernetes`
(docs/kubernetes.md), checked strictly offline (no cluster, no mock API
server): core kinds against the official Kubernetes Python client's models
(unknown fields, wrong types and missing required fields are failures),
agent-sandbox kinds against the shipped CRDs' openAPIV3Schema with unknown
fields refused; YAML equals JSON; byte-identical output; DNS-1123 names;
a denial inside a grant as `except`, a host name refused in one line; and
the rendered pod's container run with runsc as a kubelet would make it.
The NetworkPolicy's meaning against the local allowlist is test_render_net.c."""
import glob
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, skip_or_fail  # noqa: E402

try:
    import jsonschema
    import yaml
    from kubernetes.client import models
except ImportError as e:
    skip_or_fail("python3-kubernetes, python3-yaml and python3-jsonschema are needed (%s)" % e)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("OMNIBASE_SOURCE_DIR", os.path.join(HERE, "..", ".."))
CRDS = os.environ.get("OMNIBASE_AGENT_SANDBOX_CRDS",
                      os.path.join(SRC, "..", "shared", "schemas", "kubernetes", "agent-sandbox"))
CORE = {"Namespace": "V1Namespace", "ResourceQuota": "V1ResourceQuota",
        "LimitRange": "V1LimitRange", "NetworkPolicy": "V1NetworkPolicy", "Role": "V1Role",
        "RoleBinding": "V1RoleBinding", "RuntimeClass": "V1RuntimeClass",
        "ConfigMap": "V1ConfigMap"}
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def model_check(value, typ, path):
    """value (decoded JSON) against a client type string, recursively."""
    m = re.match(r"^list\[(.*)\]$", typ)
    if m:
        assert isinstance(value, list), "%s: %r is not a list" % (path, value)
        for i, v in enumerate(value):
            model_check(v, m.group(1), "%s[%d]" % (path, i))
        return
    m = re.match(r"^dict\(str, (.*)\)$", typ)
    if m:
        assert isinstance(value, dict), "%s: not a map" % path
        for k, v in value.items():
            model_check(v, m.group(1), "%s.%s" % (path, k))
        return
    simple = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
              "object": (str, int), "datetime": (str,)}
    if typ in simple:
        ok = isinstance(value, simple[typ]) and not (typ == "int" and isinstance(value, bool))
        assert ok, "%s: %r is not %s" % (path, value, typ)
        return
    cls = getattr(models, typ)
    assert isinstance(value, dict), "%s: %r is not a %s object" % (path, value, typ)
    by_json = {j: a for a, j in cls.attribute_map.items()}
    for k, v in value.items():
        assert k in by_json, "%s: unknown field %r of %s" % (path, k, typ)
        model_check(v, cls.openapi_types[by_json[k]], path + "." + k)
    try:  # the generated setters refuse a missing required field (and bad enums)
        cls(**{by_json[k]: v for k, v in value.items()})
    except ValueError as e:
        raise AssertionError("%s: %s: %s" % (path, typ, e))


def strict(schema):
    """The CRD schema with unknown fields refused instead of pruned."""
    if isinstance(schema, dict):
        s = {k: strict(v) for k, v in schema.items()}
        if (s.get("type") == "object" and "properties" in s and "additionalProperties" not in s
                and not s.get("x-kubernetes-preserve-unknown-fields")):
            s["additionalProperties"] = False
        return s
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def load_crds():
    out = {}
    for f in glob.glob(os.path.join(CRDS, "*.yaml")):
        with open(f) as fh:
            crd = yaml.safe_load(fh)
        for v in crd["spec"]["versions"]:
            api = crd["spec"]["group"] + "/" + v["name"]
            out[(api, crd["spec"]["names"]["kind"])] = (v, strict(v["schema"]["openAPIV3Schema"]))
    return out


def pod_profile(items):
    """The profile the rendered pod's image holds (its annotation)."""
    pt = items[-1]["spec"]["podTemplate"]
    return pt["metadata"]["annotations"]["omnibase.dev/profile"]


def pod_bundle(items, w):
    """An OCI bundle in w/bundle of the rendered Sandbox's container, made as
    a kubelet would make it, with this host's /usr and the build's sidecar
    standing in for the image."""
    pod = items[-1]["spec"]["podTemplate"]["spec"]
    c = pod["containers"][0]
    sc = c["securityContext"]
    cms = {o["metadata"]["name"]: o["data"] for o in items if o["kind"] == "ConfigMap"}
    vols = {v["name"]: v for v in pod["volumes"]}
    build = os.environ.get("OMNIBASE_BUILD_DIR", os.path.join(SRC, "build"))
    sidecar = os.path.join(build, "sidecar", "omnibase-sidecar-plain")
    if not os.path.exists(sidecar):  # the sanitizer build's uninstrumented copy, or this
        sidecar = os.path.join(build, "sidecar", "omnibase-sidecar")
    rootfs = os.path.join(w, "bundle", "rootfs")
    os.makedirs(rootfs)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        os.symlink(target, os.path.join(rootfs, link))

    def bind(src, dst, ro=True):
        return {"destination": dst, "type": "bind", "source": src,
                "options": ["rbind", "ro" if ro else "rw", "nosuid", "nodev"]}
    mounts = [{"destination": "/proc", "type": "proc", "source": "proc"},
              bind("/usr", "/usr"), bind(sidecar, c["command"][0])]
    for m in c["volumeMounts"]:
        v = vols[m["name"]]
        if "configMap" in v:
            d = os.path.join(w, "cm-" + m["name"])
            os.makedirs(d)
            for key, text in cms[v["configMap"]["name"]].items():
                with open(os.path.join(d, key), "w") as f:
                    f.write(text)
                os.chmod(os.path.join(d, key), v["configMap"]["defaultMode"])
            src = os.path.join(d, m["subPath"]) if "subPath" in m else d
            mounts.append(bind(src, m["mountPath"], m.get("readOnly", False)))
        elif v["emptyDir"].get("medium") == "Memory":
            mounts.append({"destination": m["mountPath"], "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "mode=1777"]})
        else:
            d = os.path.join(w, "dir-" + m["name"])
            os.makedirs(d)
            os.chmod(d, 0o777)
            mounts.append(bind(d, m["mountPath"], False))
    caps = ["CAP_" + n for n in sc["capabilities"]["add"]]
    config = {
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": sc["readOnlyRootFilesystem"]},
        "hostname": "pod",
        "process": {
            "terminal": False,
            "user": {"uid": sc["runAsUser"], "gid": sc["runAsGroup"]},
            "cwd": c["workingDir"],
            "args": c["command"] + c.get("args", []),
            "env": ["PATH=/usr/bin:/bin"] + ["%s=%s" % (e["name"], e["value"])
                                             for e in c["env"]],
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": not sc["allowPrivilegeEscalation"],
        },
        "mounts": mounts,
        "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")]},
    }
    with open(os.path.join(w, "bundle", "config.json"), "w") as f:
        json.dump(config, f)


class RenderK8s(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(OMNIBASE, os.X_OK):
            skip_or_fail("OMNIBASE_BIN is not set to the omnibase binary")
        if not os.path.isdir(CRDS):
            skip_or_fail("the agent-sandbox CRDs are not at " + CRDS)
        cls.crds = load_crds()
        cls.tmp = tempfile.mkdtemp(prefix="ob-render-", dir="/var/tmp")
        cls.env = dict(os.environ, OMNIBASE_STATE_DIR=os.path.join(cls.tmp, "state"),
                       SOURCE_DATE_EPOCH="1796640000")
        cls.env.pop("OMNIBASE_TEMPLATE_DIR", None)
        cls.env.pop("OMNIBASE_CONFIG", None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def run_ob(self, *args, env=None, ok=True):
        p = subprocess.run([OMNIBASE, *args], capture_output=True, text=True,
                           env=env or self.env, timeout=60)
        if ok:
            self.assertEqual(p.returncode, 0, "%s: %s" % (args, p.stderr))
        return p

    def render(self, *args, env=None):
        """JSON and YAML of one render; checks they agree and are stable."""
        js = self.run_ob(*args, "--format", "json", env=env).stdout
        ym = self.run_ob(*args, env=env).stdout
        self.assertEqual(js, self.run_ob(*args, "--format", "json", env=env).stdout)
        self.assertEqual(ym, self.run_ob(*args, env=env).stdout)
        lst = json.loads(js)
        self.assertEqual((lst["apiVersion"], lst["kind"]), ("v1", "List"))
        self.assertEqual(list(yaml.safe_load_all(ym)), lst["items"])
        return lst["items"]

    def check_object(self, o):
        md = o["metadata"]
        where = "%s/%s" % (o["kind"], md.get("name"))
        self.assertEqual(md["labels"]["app.kubernetes.io/managed-by"], "omnibase", where)
        for k, v in md["labels"].items():
            self.assertRegex(v, LABEL_VALUE, where + " label " + k)
        self.assertRegex(md["name"], DNS1123_SUB, where)
        if o["kind"] in ("Namespace", "Sandbox", "SandboxTemplate", "SandboxWarmPool"):
            self.assertRegex(md["name"], DNS1123_LABEL, where)
        if "namespace" in md:
            self.assertRegex(md["namespace"], DNS1123_LABEL, where)
        model_check(md, "V1ObjectMeta", where + ".metadata")
        if o["kind"] in CORE:
            model_check(o, CORE[o["kind"]], where)
            return
        v, schema = self.crds[(o["apiVersion"], o["kind"])]
        self.assertTrue(v["served"] and v["storage"], where + ": not the served storage version")
        try:
            jsonschema.Draft7Validator(schema).validate(o)
        except jsonschema.ValidationError as e:
            self.fail("%s: %s at %s" % (where, e.message, list(e.absolute_path)))
        pod = o["spec"]["podTemplate"]["spec"] if "podTemplate" in o["spec"] else None
        if pod is not None:
            model_check(pod, "V1PodSpec", where + ".podTemplate.spec")
            self.assertEqual(pod["runtimeClassName"], "gvisor")
            c = pod["containers"][0]
            self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"])
            self.assertEqual(c["securityContext"]["capabilities"]["drop"], ["ALL"])

    def templates(self):
        return [t["name"] for t in json.loads(self.run_ob("template", "list", "--json").stdout)]

    def test_templates(self):
        names = self.templates()
        self.assertTrue(names)
        for name in names:
            for pool in ("0", "3"):
                items = self.render("template", "render", name, "--backend", "kubernetes",
                                    "--pool", pool)
                kinds = [o["kind"] for o in items]
                self.assertEqual(kinds[0], "RuntimeClass")
                self.assertIn("SandboxTemplate", kinds)
                self.assertEqual("SandboxWarmPool" in kinds, pool != "0")
                for o in items:
                    self.check_object(o)

    def test_random_environments(self):
        rng = random.Random(7)
        for name in self.templates():
            t = json.loads(self.run_ob("template", "show", name, "--json").stdout)
            avail = t["feature_flags"]["available"]
            for _ in range(4):
                flags = sorted(rng.sample(avail, rng.randint(0, len(avail))))
                ttl = rng.choice(["30m", "1h", "4h", "%dh" % rng.randint(1, 24)])
                owner = rng.choice(["alice", "bob.smith", "carol@example.test", "d-" + "x" * 62])
                items = self.render("env", "render", "--template", name, "--owner", owner,
                                    "--ttl", ttl, "--feature-flags", ",".join(flags),
                                    "--backend", "kubernetes")
                kinds = [o["kind"] for o in items]
                self.assertEqual(kinds, ["RuntimeClass", "Namespace", "ResourceQuota",
                                         "LimitRange", "NetworkPolicy", "Role", "Role", "Role",
                                         "RoleBinding", "ConfigMap", "ConfigMap", "Sandbox"])
                for o in items:
                    self.check_object(o)
                ns = items[1]
                self.assertEqual(ns["metadata"]["annotations"]["omnibase.dev/owner"], owner)
                sb = items[-1]
                self.assertEqual(sb["spec"]["shutdownTime"],
                                 ns["metadata"]["annotations"]["omnibase.dev/expires-at"])
                cm = json.loads(items[10]["data"]["flags.json"])
                self.assertEqual(sorted(cm["flags"]), flags)
                self.check_limits(t, items)
                np = items[4]["spec"]
                self.assertEqual(np["policyTypes"], ["Ingress", "Egress"])
                self.assertEqual(np["egress"], [])  # the shipped templates grant no network

    def test_random_limits(self):
        """For random limits (the table's ranges, fractional CPUs included),
        ResourceQuota, LimitRange, the pod's resources and /tmp's size are
        the template's, for env render and template render alike."""
        rng = random.Random(11)
        d = os.path.join(self.tmp, "tpl-limits")
        os.makedirs(d, exist_ok=True)
        env = dict(self.env, OMNIBASE_TEMPLATE_DIR=d)
        for i in range(12):
            limits = {"memory_mb": rng.choice([32, 64, 100, 256, 1000, 4096, 65536,
                                               rng.randint(32, 1 << 20)]),
                      "cpus": rng.choice([0.01, 0.25, 0.5, 1, 1.5, 2, 7.123, 1024,
                                          round(rng.uniform(0.01, 64), 3)]),
                      "tmpfs_mb": rng.choice([1, 16, 64, 1000, rng.randint(1, 1 << 20)])}
            tpl = {"name": "lim%d" % i, "description": "limits", "approved": True,
                   "approved_by": "test", "data_classification": "synthetic",
                   "profile": "shell",
                   "capabilities": {"version": 1, "grants": [], "limits": limits},
                   "ttl": {"default": "1h", "max": "1d"},
                   "workspace_mb": rng.choice([16, 256, 1000, rng.randint(16, 4096)])}
            with open(os.path.join(d, "lim%d.json" % i), "w") as f:
                json.dump(tpl, f)
            items = self.render("env", "render", "--template", "lim%d" % i, "--owner", "alice",
                                "--backend", "kubernetes", env=env)
            for o in items:
                self.check_object(o)
            shown = json.loads(self.run_ob("template", "show", "lim%d" % i, "--json",
                                           env=env).stdout)
            self.check_limits(shown, items)
            t_items = self.render("template", "render", "lim%d" % i, "--backend", "kubernetes",
                                  env=env)
            st = [o for o in t_items if o["kind"] == "SandboxTemplate"][0]
            res = st["spec"]["podTemplate"]["spec"]["containers"][0]["resources"]
            self.assertEqual(res, items[-1]["spec"]["podTemplate"]["spec"]["containers"][0]
                             ["resources"])

    def check_limits(self, t, items):
        """ResourceQuota, LimitRange and the pod's resources are the template's limits."""
        lim = t["capabilities"].get("limits", {})
        cpu = "%dm" % round(lim.get("cpus", 1) * 1000)
        mem = "%dMi" % lim.get("memory_mb", 256)
        disk = "%dMi" % t.get("workspace_mb", 256)
        want = {"cpu": cpu, "memory": mem, "ephemeral-storage": disk}
        hard = items[2]["spec"]["hard"]
        for k, v in want.items():
            self.assertEqual(hard["limits." + k], v)
            self.assertEqual(hard["requests." + k], v)
        self.assertEqual(hard["pods"], "1")
        self.assertEqual(items[3]["spec"]["limits"][0]["max"], want)
        pod = items[-1]["spec"]["podTemplate"]["spec"]
        self.assertEqual(pod["containers"][0]["resources"], {"limits": want, "requests": want})
        tmp = [v for v in pod["volumes"] if v["name"] == "tmp"][0]
        self.assertEqual(tmp["emptyDir"], {"medium": "Memory",
                                           "sizeLimit": "%dMi" % lim.get("tmpfs_mb", 64)})

    def test_yaml_escapes(self):
        """Strings YAML would misread raw (quotes, backslashes, controls, DEL, C1,
        BOM, non-ASCII) round-trip through the emitter."""
        d = os.path.join(self.tmp, "tpl-yaml")
        os.makedirs(d, exist_ok=True)
        odd = "/workspace/a \"q\" \\ x: - # & * ! | > ' % @ ` \u007f \u0085 \ufeff é 中 🙂"
        tpl = {"name": "odd", "description": "odd", "approved": True, "approved_by": "t",
               "data_classification": "synthetic", "profile": "shell",
               "capabilities": {"version": 1, "grants": [
                   {"capability": "FILE_READ", "target": odd,
                    "policy_id": "yes: no\n- [x]"}]},
               "ttl": {"default": "1h", "max": "1d"}}
        with open(os.path.join(d, "odd.json"), "w") as f:
            json.dump(tpl, f)
        env = dict(self.env, OMNIBASE_TEMPLATE_DIR=d)
        items = self.render("env", "render", "--template", "odd", "--owner", "alice",
                            "--backend", "kubernetes", env=env)
        caps = json.loads(items[9]["data"]["caps.json"])
        self.assertEqual(caps["grants"][0]["target"], odd)
        self.render("template", "render", "odd", "--backend", "kubernetes", env=env)

    def test_config_groups(self):
        """$OMNIBASE_CONFIG's kubernetes groups bind the Admin and Observer roles;
        an unknown key there is one positioned line, exit 125."""
        cfg = os.path.join(self.tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"kubernetes": {"admin_groups": ["platform-admins"],
                                      "observer_groups": ["devs", "oncall:sre"]}}, f)
        env = dict(self.env, OMNIBASE_CONFIG=cfg)
        items = self.render("env", "render", "--template", "python-agent", "--owner", "alice",
                            "--backend", "kubernetes", env=env)
        for o in items:
            self.check_object(o)
        rb = {o["metadata"]["name"]: o for o in items if o["kind"] == "RoleBinding"}
        self.assertEqual(sorted(rb), ["omnibase-admin", "omnibase-observer", "omnibase-owner"])
        self.assertEqual([s["name"] for s in rb["omnibase-observer"]["subjects"]],
                         ["devs", "oncall:sre"])
        self.assertEqual(rb["omnibase-owner"]["subjects"][0]["kind"], "User")
        with open(cfg, "w") as f:
            f.write('{"kubernetes": {"admin_group": []}}')
        p = self.run_ob("env", "render", "--template", "python-agent", "--owner", "alice",
                        "--backend", "kubernetes", env=env, ok=False)
        self.assertEqual(p.returncode, 125)
        self.assertRegex(p.stderr, r"^omnibase: .*config.json:1:17: unknown key")

    def test_stored_environment(self):
        """env render ID|NAME renders the store's record (a row as create leaves it;
        no runsc needed): same objects as the plan of the same inputs, its id,
        expiry and flags; a deleted one is refused."""
        state = os.path.join(self.tmp, "state-stored")
        env = dict(self.env, OMNIBASE_STATE_DIR=state)
        self.run_ob("env", "list", "--all", env=env)  # makes the database
        db = sqlite3.connect(os.path.join(state, "omnibase.db"))
        with db:
            for i, st in ((1, "running"), (2, "deleted")):
                db.execute("INSERT INTO environments (id, name, owner, template, state, "
                           "created_at, expires_at, last_activity_at, seed, flags, memory_mb, "
                           "secret_names) "
                           "VALUES (?, ?, 'bob', 'feature-default', ?, 1796640000, 1796812800, "
                           "1796640000, 'synthetic:v1', '[\"dark-mode\"]', 512, "
                           "'[\"API_TOKEN\", \"DB_PASSWORD\"]')",
                           ("env-00000000000%d" % i, "stored-%d" % i, st))
        db.close()
        items = self.render("env", "render", "stored-1", "--backend", "kubernetes", env=env)
        self.assertEqual(items, self.render("env", "render", "env-000000000001", "--backend",
                                            "kubernetes", env=env))
        for o in items:
            self.check_object(o)
        self.assertEqual(items[1]["metadata"]["name"], "omnibase-env-000000000001")
        self.assertEqual(items[-1]["spec"]["shutdownTime"], "2026-12-09T10:40:00Z")
        self.assertEqual(json.loads(items[10]["data"]["flags.json"]),
                         {"env_id": "env-000000000001", "flags": {"dark-mode": True}})
        # the secrets: files of the Secret omnibase-secrets (its keys named, so a
        # missing one keeps the pod from starting), 0440 for the workload's
        # group on the Secret volume's tmpfs; no value is rendered (none is known)
        pod = items[-1]["spec"]["podTemplate"]["spec"]
        vol = [v for v in pod["volumes"] if v["name"] == "secrets"][0]["secret"]
        self.assertEqual(vol, {"defaultMode": 0o440, "optional": False,
                               "secretName": "omnibase-secrets",
                               "items": [{"key": "API_TOKEN", "path": "API_TOKEN"},
                                         {"key": "DB_PASSWORD", "path": "DB_PASSWORD"}]})
        self.assertEqual(pod["securityContext"]["fsGroup"], 65534)
        self.assertIn({"mountPath": "/run/omnibase/secrets", "name": "secrets", "readOnly": True},
                      pod["containers"][0]["volumeMounts"])
        self.assertNotIn("Secret", [o["kind"] for o in items])
        # the seed: an init step that installs exactly the local bundle
        self.assertEqual([c["name"] for c in pod["initContainers"]], ["seed"])
        p = self.run_ob("env", "render", "stored-2", "--backend", "kubernetes", env=env, ok=False)
        self.assertEqual(p.returncode, 125)
        p = self.run_ob("env", "render", "env-000000000002", "--backend", "kubernetes", env=env,
                        ok=False)
        self.assertEqual(p.returncode, 125)
        self.assertEqual(len(p.stderr.splitlines()), 1)

    def seed_script(self, items):
        pod = [o for o in items if o["kind"] == "Sandbox"][0]["spec"]["podTemplate"]["spec"]
        init = pod["initContainers"][0]
        self.assertEqual(init["command"][:2], ["/bin/sh", "-c"])
        self.assertEqual(init["securityContext"]["runAsUser"], 65534)
        self.assertEqual(init["volumeMounts"], [{"mountPath": "/workspace", "name": "workspace"}])
        return init["command"][2]

    def run_seed_script(self, script, seeds, workspace):
        """The init step's script itself, run on this host as the workload's
        user, with the image's seed directory and the pod's /workspace
        replaced by host directories (the only change to its text)."""
        self.assertEqual(script.count("/usr/share/omnibase/seeds/"), 1)
        text = script.replace("/usr/share/omnibase/seeds", seeds).replace("/workspace", workspace)
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "/bin/sh", "-c", text], capture_output=True, text=True, timeout=60)

    def test_seed_as_an_init_step(self):
        """The init step installs the seed as ob_seed_install does (the same
        files and bytes, MANIFEST kept, 0644/0755, mtimes 0), keeps an
        installed one, and refuses a bundle in the image that is not the
        local one (a changed file, or a MANIFEST rewritten to match)."""
        items = self.render("env", "render", "--template", "feature-default", "--owner", "alice",
                            "--seed", "synthetic:v1", "--backend", "kubernetes")
        for o in items:
            self.check_object(o)
        script = self.seed_script(items)
        src = os.path.join(SRC, "seeds", "synthetic", "v1")
        os.chmod(self.tmp, 0o755)  # the workload's user walks to the copies
        for case in ("good", "file", "manifest"):
            seeds = os.path.join(self.tmp, "img-" + case)
            shutil.copytree(os.path.join(SRC, "seeds"), seeds)
            bundle = os.path.join(seeds, "synthetic", "v1")
            ws = os.path.join(self.tmp, "ws-" + case)
            os.makedirs(ws)
            os.chmod(ws, 0o777)
            if case != "good":
                with open(os.path.join(bundle, "users.csv"), "a") as f:
                    f.write("mallory,admin\n")
            if case == "manifest":
                import hashlib
                lines = []
                for line in open(os.path.join(bundle, "MANIFEST")):
                    path = line[66:].rstrip("\n")
                    data = open(os.path.join(bundle, path), "rb").read()
                    lines.append("%s  %s\n" % (hashlib.sha256(data).hexdigest(), path))
                with open(os.path.join(bundle, "MANIFEST"), "w") as f:
                    f.writelines(lines)
            p = self.run_seed_script(script, seeds, ws)
            if case != "good":
                self.assertNotEqual(p.returncode, 0, case)
                self.assertFalse(os.path.exists(os.path.join(ws, "seed")), case)
                continue
            self.assertEqual(p.returncode, 0, p.stderr)
            got = os.path.join(ws, "seed")
            listed = sorted(line[66:].rstrip("\n") for line in open(os.path.join(src, "MANIFEST")))
            files = sorted(os.path.relpath(os.path.join(d, f), got)
                           for d, _, fs in os.walk(got) for f in fs)
            self.assertEqual(files, sorted(listed + ["MANIFEST"]))
            for rel in files:
                with open(os.path.join(got, rel), "rb") as a, open(os.path.join(src, rel), "rb") as b:
                    self.assertEqual(a.read(), b.read(), rel)
                st = os.lstat(os.path.join(got, rel))
                self.assertEqual((st.st_mode & 0o7777, st.st_mtime, st.st_uid), (0o644, 0, 65534))
            for d, dirs, _ in os.walk(got):
                st = os.lstat(d)
                self.assertEqual((st.st_mode & 0o7777, st.st_mtime), (0o755, 0), d)
            # a restarted pod keeps what it has
            with open(os.path.join(got, "users.csv"), "a") as f:
                f.write("kept\n")
            self.assertEqual(self.run_seed_script(script, seeds, ws).returncode, 0)
            self.assertTrue(open(os.path.join(got, "users.csv")).read().endswith("kept\n"))
        # no seed, no init step
        items = self.render("env", "render", "--template", "python-agent", "--owner", "alice",
                            "--backend", "kubernetes")
        pod = items[-1]["spec"]["podTemplate"]["spec"]
        self.assertNotIn("initContainers", pod)

    def test_docs_example(self):
        """docs/kubernetes.md's example is what the command prints."""
        with open(os.path.join(SRC, "docs", "kubernetes.md")) as f:
            doc = f.read().split("## A full rendered example", 1)[1]
        tpl = re.search(r"```json\n(.*?)```", doc, re.S).group(1)
        want = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
        d = os.path.join(self.tmp, "tpl-doc")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "net-demo.json"), "w") as f:
            f.write(tpl)
        env = dict(self.env, OMNIBASE_TEMPLATE_DIR=d, SOURCE_DATE_EPOCH="1796640000")
        got = self.run_ob("env", "render", "--template", "net-demo", "--owner", "alice",
                          "--backend", "kubernetes", env=env).stdout
        self.assertEqual(got, want)

    def test_the_sidecar_gets_what_a_local_run_gives_it(self):
        """The pod's sidecar holds both capability files a local run's does:
        the environment's and profile-caps.json (the profile's paths, the
        sandbox's /tmp and /dev/shm, devices, ptys; its loopback only without
        a network grant), from the runner's own plan of the template's sandbox;
        the same flags (scratch dirs, the sandbox user); a /dev/shm tmpfs of
        tmpfs_mb as locally."""
        for tpl, env, network in (("python-agent", self.env, False),
                                  ("net", self.network_template("10.9.0.0/16:443"), True)):
            items = self.render("env", "render", "--template", tpl, "--owner", "alice",
                                "--backend", "kubernetes", env=env)
            cm = [o for o in items if o["kind"] == "ConfigMap"
                  and o["metadata"]["name"] == "omnibase-capabilities"][0]
            prof = json.loads(cm["data"]["profile-caps.json"])
            grants = {(g["capability"], g["target"]) for g in prof["grants"]}
            pod = items[-1]["spec"]["podTemplate"]["spec"]
            with open(os.path.join(SRC, "profiles",
                                   pod_profile(items) + ".json")) as f:
                paths = [q for q in json.load(f)["paths"] if os.path.exists(q)]
            self.assertTrue(paths, tpl)
            for q in paths:
                self.assertIn(("FILE_READ", q), grants, tpl)
            for q in ("/tmp", "/dev/shm", "/dev/null", "/dev/ptmx"):
                self.assertIn(("FILE_WRITE", q), grants, tpl)
            self.assertEqual(("NETWORK_CONNECT", "127.0.0.0/8:*") in grants, not network, tpl)
            cmd = pod["containers"][0]["command"]
            self.assertEqual(cmd[-1], "--hold")
            for flag in (["--caps", "/omnibase/run/caps.json"],
                         ["--caps", "/omnibase/run/profile-caps.json"],
                         ["--scratch", "/tmp"], ["--scratch", "/dev/shm"], ["--uid", "65534"]):
                self.assertTrue(any(cmd[i:i + 2] == flag for i in range(len(cmd))), (tpl, flag))
            # no supervisor in a pod: the events go to the container's log
            self.assertTrue(any(cmd[i:i + 2] == ["--channel-fd", "1"] for i in range(len(cmd))))
            shm = [v for v in pod["volumes"] if v["name"] == "shm"][0]
            tmp = [v for v in pod["volumes"] if v["name"] == "tmp"][0]
            self.assertEqual(shm["emptyDir"], tmp["emptyDir"])
            self.assertIn({"mountPath": "/dev/shm", "name": "shm"},
                          pod["containers"][0]["volumeMounts"])
            for o in items:
                self.check_object(o)

    def test_the_rendered_pod_runs_its_sidecar_in_gvisor(self):
        """No cluster here, but gVisor is: the rendered pod's container, as
        the kubelet would make it (its command, user, capabilities, working
        directory, environment, read-only root; the ConfigMaps' files at
        their mount paths, memory emptyDirs as tmpfs, the workspace a
        directory), run with runsc. The image stands in as this host's /usr
        and the build's sidecar at the path the image must hold it. The
        sidecar loads both rendered capability files, says SandboxStart on
        its stdout (the container's log), holds, and at SIGTERM says
        SandboxExit and exits 0."""
        if os.geteuid() != 0 or not shutil.which("runsc"):
            skip_or_fail("the rendered pod's run needs root and runsc")
        items = self.render("env", "render", "--template", "python-agent", "--owner", "alice",
                            "--backend", "kubernetes")
        w = tempfile.mkdtemp(prefix="pod-", dir=self.tmp)
        root, cid = os.path.join(w, "runsc"), "obt-pod-" + os.path.basename(w)[4:].lower()
        pod_bundle(items, w)
        p = subprocess.Popen(["runsc", "--root", root, "--network=none", "run", "--bundle",
                              os.path.join(w, "bundle"), cid], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            start = json.loads(p.stdout.readline())
            self.assertEqual((start["type"], start["argv0"], start["pid"]),
                             ("SandboxStart", "(environment)", 1), start)
            subprocess.run(["runsc", "--root", root, "kill", cid, "TERM"], check=True,
                           timeout=60)
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            end = [json.loads(line) for line in out.decode().splitlines()]
            self.assertEqual([e["type"] for e in end], ["SandboxExit"], out)
            self.assertEqual(end[0]["exit_code"], 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            subprocess.run(["runsc", "--root", root, "delete", "--force", cid],
                           capture_output=True, timeout=60)

    def network_template(self, denial, extra_grants=()):
        d = os.path.join(self.tmp, "tpl-" + str(abs(hash((denial, *extra_grants)))))
        os.makedirs(d, exist_ok=True)
        tpl = {"name": "net", "description": "network", "approved": True,
               "approved_by": "test", "data_classification": "synthetic", "profile": "shell",
               "capabilities": {"version": 1,
                                "grants": [{"capability": "NETWORK_CONNECT",
                                            "target": "10.0.0.0/8:443"},
                                           {"capability": "NETWORK_CONNECT",
                                            "target": "[fd00::/64]:8000-8100"}] +
                                [{"capability": "NETWORK_CONNECT", "target": t}
                                 for t in extra_grants],
                                "denials": [{"capability": "NETWORK_CONNECT", "target": denial}]},
               "ttl": {"default": "1h", "max": "1d"}}
        with open(os.path.join(d, "net.json"), "w") as f:
            json.dump(tpl, f)
        return dict(self.env, OMNIBASE_TEMPLATE_DIR=d)

    def test_denial_as_except(self):
        env = self.network_template("10.9.0.0/16:443")
        items = self.render("env", "render", "--template", "net", "--owner", "alice",
                            "--backend", "kubernetes", env=env)
        for o in items:
            self.check_object(o)
        eg = [o for o in items if o["kind"] == "NetworkPolicy"][0]["spec"]["egress"]
        self.assertEqual(eg[0]["to"], [{"ipBlock": {"cidr": "10.0.0.0/8",
                                                    "except": ["10.9.0.0/16"]}}])
        self.assertEqual(eg[1]["to"], [{"ipBlock": {"cidr": "fd00::/64"}}])
        self.assertEqual(eg[1]["ports"][0], {"protocol": "TCP", "port": 8000, "endPort": 8100})

    def test_host_names_resolved_at_render(self):
        """A granted name becomes the addresses it has now (annotated), plus
        DNS egress to kube-dns; a name that does not resolve grants nothing."""
        env = self.network_template("10.9.0.0/16:443",
                                    ("localhost:5432", "nonexistent.invalid:443"))
        items = self.render("env", "render", "--template", "net", "--owner", "alice",
                            "--backend", "kubernetes", env=env)
        for o in items:
            self.check_object(o)
        np = [o for o in items if o["kind"] == "NetworkPolicy"][0]
        resolved = json.loads(np["metadata"]["annotations"]["omnibase.dev/resolved-at-render"])
        self.assertIn("127.0.0.1", resolved["localhost"])
        self.assertEqual(resolved["nonexistent.invalid"], [])
        eg = np["spec"]["egress"]
        self.assertIn({"to": [{"ipBlock": {"cidr": "127.0.0.1/32"}}],
                       "ports": [{"protocol": "TCP", "port": 5432},
                                 {"protocol": "UDP", "port": 5432}]}, eg)
        self.assertEqual(eg[-1]["to"], [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}])
        self.assertEqual(sorted(p["port"] for p in eg[-1]["ports"]), [53, 53])
        # without a granted name there is no DNS egress
        plain = self.render("env", "render", "--template", "net", "--owner", "alice",
                            "--backend", "kubernetes", env=self.network_template("10.9.0.0/16:443"))
        np = [o for o in plain if o["kind"] == "NetworkPolicy"][0]
        self.assertNotIn("kube-dns", json.dumps(np))
        self.assertNotIn("annotations", np["metadata"])
        # the template's SandboxTemplate says the same
        tpl = self.render("template", "render", "net", "--backend", "kubernetes", env=env)
        for o in tpl:
            self.check_object(o)
        st = [o for o in tpl if o["kind"] == "SandboxTemplate"][0]
        self.assertIn("omnibase.dev/resolved-at-render", st["metadata"]["annotations"])

    def test_refusals(self):
        for target, words in (("*.example.com:443", "host pattern"),
                              ("host.omnibase.internal:80", "host.omnibase.internal")):
            env = self.network_template(target)
            p = self.run_ob("env", "render", "--template", "net", "--owner", "alice",
                            "--backend", "kubernetes", env=env, ok=False)
            self.assertEqual(p.returncode, 125)
            self.assertEqual(p.stdout, "")
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            self.assertIn(words, p.stderr)
        for args in (["env", "render", "env-000000000000", "--backend", "kubernetes"],
                     ["template", "render", "no-such-template", "--backend", "kubernetes"],
                     ["template", "render", "python-agent", "--backend", "nomad"],
                     ["env", "render", "--template", "python-agent", "--backend", "kubernetes"],
                     ["env", "render", "--template", "python-agent", "--owner", "a",
                      "--ttl", "99d", "--backend", "kubernetes"],
                     ["template", "render", "python-agent", "--backend", "kubernetes",
                      "--format", "toml"]):
            p = self.run_ob(*args, ok=False)
            self.assertEqual(p.returncode, 125, args)
            self.assertEqual(len(p.stderr.splitlines()), 1, (args, p.stderr))
            self.assertTrue(p.stderr.startswith("omnibase: "), p.stderr)


if __name__ == "__main__":
    unittest.main()
