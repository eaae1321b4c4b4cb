# Sourced by the benchmarks that compare omnibase with a bare `runsc run`:
# the checks, a work directory with its own state dir and runsc root, and a
# cleanup at exit of every bare sandbox and of the baseline's cgroups.
#   bench_setup NAME OMNIBASE WORK_TEMPLATE CGROUP_PARENT
# sets work, bare_root and OMNIBASE_STATE_DIR.
bench_setup() {
    local name=$1 omnibase=$2 template=$3
    bench_cgroup=$4
    [ "$(id -u)" -eq 0 ] || { echo "$name: run as root" >&2; exit 1; }
    command -v runsc >/dev/null || { echo "$name: runsc is not installed" >&2; exit 1; }
    [ -x "$omnibase" ] || { echo "$name: $omnibase is not built" >&2; exit 1; }
    work=$(mktemp -d "$template")
    chmod 755 "$work"
    export OMNIBASE_STATE_DIR=$work/state
    bare_root=$work/runsc-root
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for id in $(runsc --root "$bare_root" list -q 2>/dev/null); do
        runsc --root "$bare_root" delete --force "$id" >/dev/null 2>&1 || true
    done
    rmdir /sys/fs/cgroup/*/"$bench_cgroup"/*/ /sys/fs/cgroup/*/"$bench_cgroup" 2>/dev/null || true
    rm -rf "$work"
}
