#!/usr/bin/python3
"""The baseline of the benchmarks: a bundle for a bare `runsc run` made from
omnibase's own plan (`omnibase sandbox run ... --dry-run`), with omnibase's
part taken out: the workload itself is PID 1 (what follows the sidecar's
`--`), as uid 65534 with no capabilities, without the sidecar's capability
files; the mount points made by hand in a rootfs with the merged-/usr links.

    bare_bundle.py PLAN.json BUNDLE_DIR [--cgroup PATH] [--private-shm] [--no-sidecar]
        --private-shm   a 1777 noexec tmpfs at /dev/shm (64 MiB), as omnibase gives
        --no-sidecar    leave the sidecar's own binary out of the mounts too
    bare_bundle.py --set-cgroup CONFIG.json PATH    (a new id per run)
"""
import json
import os
import sys

SIDECAR = "/omnibase/sidecar/omnibase-sidecar"


def set_cgroup(config, path):
    with open(config) as f:
        cfg = json.load(f)
    cfg["linux"]["cgroupsPath"] = path
    with open(config, "w") as f:
        json.dump(cfg, f)


def make(plan_path, bundle, cgroup, private_shm, no_sidecar):
    with open(plan_path) as f:
        cfg = json.load(f)["config"]
    args = cfg["process"]["args"]
    cfg["process"]["args"] = args[args.index("--") + 1:]
    cfg["process"]["user"] = {"uid": 65534, "gid": 65534}
    for k in cfg["process"]["capabilities"]:
        cfg["process"]["capabilities"][k] = []
    gone = {"/omnibase/run"} | ({SIDECAR} if no_sidecar else set())
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] not in gone]
    if private_shm and not any(m["destination"] == "/dev/shm" for m in cfg["mounts"]):
        cfg["mounts"].append({"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs",
                              "options": ["nosuid", "nodev", "noexec", "mode=1777",
                                          "size=65536k"]})
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs)
    for m in cfg["mounts"]:
        dest = rootfs + m["destination"]
        if m["type"] == "bind" and not os.path.isdir(m["source"]):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            open(dest, "a").close()
        else:
            os.makedirs(dest, exist_ok=True)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                         ("usr/bin/python3", "python3.11")):
        if not os.path.lexists(os.path.join(rootfs, link)):
            os.symlink(target, os.path.join(rootfs, link))
    cfg["root"] = {"path": rootfs, "readonly": True}
    if cgroup:
        cfg["linux"]["cgroupsPath"] = cgroup
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def main(argv):
    if len(argv) == 3 and argv[0] == "--set-cgroup":
        set_cgroup(argv[1], argv[2])
        return
    if len(argv) < 2:
        sys.exit(__doc__)
    cgroup = None
    opts = argv[2:]
    if "--cgroup" in opts:
        cgroup = opts[opts.index("--cgroup") + 1]
    make(argv[0], argv[1], cgroup, "--private-shm" in opts, "--no-sidecar" in opts)


main(sys.argv[1:])
