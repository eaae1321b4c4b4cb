#!/usr/bin/python3
"""config.json validates against the OCI runtime-spec schema (offline $refs)."""
import json
import os
import sys

from runnerlib import RunnerTest, main, skip_or_fail

try:
    import jsonschema
except ImportError:
    jsonschema = None

SCHEMA_DIRS = [os.environ.get("OMNIBASE_OCI_SCHEMA_DIR", ""),
               os.path.join(os.environ.get("OMNIBASE_SOURCE_DIR", ""), "..", "shared", "schemas",
                            "oci-runtime-spec"),
               "/work/shared/schemas/oci-runtime-spec"]


def schema_dir():
    for d in SCHEMA_DIRS:
        if d and os.path.isfile(os.path.join(d, "config-schema.json")):
            return os.path.abspath(d)
    return None


class ConfigSchema(RunnerTest):
    def validator(self):
        d = schema_dir()
        store = {}
        for name in os.listdir(d):
            if name.endswith(".json"):
                with open(os.path.join(d, name)) as f:
                    doc = json.load(f)
                store["file://" + os.path.join(d, name)] = doc
                store[name] = doc
                if "$id" in doc:
                    store[doc["$id"]] = doc
        schema = store["config-schema.json"]
        resolver = jsonschema.RefResolver("file://" + d + "/config-schema.json", schema,
                                          store=store)
        cls = jsonschema.validators.validator_for(schema)
        return cls(schema, resolver=resolver)

    def plan(self, *extra, caps=None):
        script = self.write("hi.py", "print('hi')\n")
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps or self.caps(),
                          "--dry-run", *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["config"]

    def test_refs_resolve_offline(self):
        v = self.validator()
        # a broken config must fail: the schema really is applied
        errors = list(v.iter_errors({"ociVersion": 1, "root": {"path": 5}}))
        self.assertTrue(errors)

    def test_config_validates(self):
        v = self.validator()
        self.write("data/x.txt", "x")
        caps = self.caps(grants=[("FILE_READ", os.path.join(self.tmp, "data", "*")),
                                 ("FILE_WRITE", os.path.join(self.tmp, "data", "x.txt"))],
                         limits={"memory_mb": 100, "cpus": 0.5, "pids": 10, "tmpfs_mb": 16},
                         name="limited.json")
        for cfg in (self.plan("--profile", "shell"), self.plan(caps=caps)):
            errors = sorted(v.iter_errors(cfg), key=str)
            self.assertEqual(errors, [], "\n".join(str(e.message) for e in errors))
        self.assertEqual(self.plan()["linux"]["resources"]["memory"]["limit"], 256 * 1024 * 1024)
        self.assertTrue(cfg["root"]["readonly"])
        # the sidecar starts as root and runs the workload as 65534 (docs/sidecar.md)
        self.assertEqual(cfg["process"]["user"], {"uid": 0, "gid": 0})
        self.assertEqual(cfg["process"]["args"][0], "/omnibase/sidecar/omnibase-sidecar")
        self.assertIn("--uid", cfg["process"]["args"])
        self.assertTrue(cfg["process"]["noNewPrivileges"])
        cfg = self.plan(caps=caps)
        self.assertEqual(cfg["linux"]["resources"]["memory"]["limit"], 100 * 1024 * 1024)
        self.assertEqual(cfg["linux"]["resources"]["cpu"]["quota"], 50000)
        tmp = [m for m in cfg["mounts"] if m["destination"] == "/tmp"][0]
        self.assertIn("size=16384k", tmp["options"])
        modes = {m["destination"]: m["options"][1] for m in cfg["mounts"] if m["type"] == "bind"}
        self.assertEqual(modes[os.path.join(self.tmp, "data")], "ro")
        self.assertEqual(modes[os.path.join(self.tmp, "data", "x.txt")], "rw")

    def test_noexec_without_file_exec(self):
        """F2: binds no FILE_EXEC grant covers and /tmp are noexec; the profile's
        paths, the sidecar and FILE_EXEC grants are not."""
        for d in ("r", "x", "w"):
            self.write(d + "/f", "x")
        caps = self.caps(grants=[("FILE_READ", os.path.join(self.tmp, "r", "*")),
                                 ("FILE_READ", os.path.join(self.tmp, "x", "*")),
                                 ("FILE_EXEC", os.path.join(self.tmp, "x", "*")),
                                 ("FILE_WRITE", os.path.join(self.tmp, "w", "*"))])
        cfg = self.plan(caps=caps)
        nx = {m["destination"]: "noexec" in m.get("options", []) for m in cfg["mounts"]}
        self.assertTrue(nx["/tmp"])
        self.assertTrue(nx[os.path.join(self.tmp, "r")])
        self.assertTrue(nx[os.path.join(self.tmp, "w")])
        self.assertFalse(nx[os.path.join(self.tmp, "x")])
        self.assertFalse(nx["/usr/bin/python3.11"])
        self.assertFalse(nx["/omnibase/sidecar/omnibase-sidecar"])


if __name__ == "__main__":
    if jsonschema is None:
        skip_or_fail("python3-jsonschema is not installed")
    if schema_dir() is None:
        skip_or_fail("the OCI runtime-spec schemas are not found (OMNIBASE_OCI_SCHEMA_DIR)")
    main()
