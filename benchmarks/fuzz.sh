#!/bin/bash
# Fuzz campaign: builds every libFuzzer target (tests/fuzz/fuzz_*.c) with
# clang + ASan + UBSan in its own build directory, runs each one for a set
# time over a scratch copy of its corpus, reports executions and crashes per
# target, and merges new interesting inputs back into tests/fuzz/corpus/<name>/
# with -merge=1 (only adds files; the saved corpus is replayed by ctest).
#
# Usage: benchmarks/fuzz.sh [-t SECONDS] [-j PARALLEL] [-b BUILD_DIR]
#                           [-n] [-R] [-k] [TARGET...]
#   -t  seconds per target (default 600)
#   -j  targets run at the same time (default 2)
#   -b  build directory (default build-fuzz)
#   -n  do not merge into the corpus (report only)
#   -k  keep going after a crash (libFuzzer -fork=1 -ignore_crashes=1); every
#       distinct crash is kept in BUILD_DIR/campaign/<target>/artifacts/
#   -R  do not build or run: report (and merge) the last campaign in BUILD_DIR
#   TARGET: policy, capfile, channel, audit_line... (default: all)
# Not part of CI. Exit status: 0 if no target crashed, 1 otherwise.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
secs=600
par=2
build=build-fuzz
merge=1
rerun=1
keep=()
while getopts "t:j:b:nRkh" opt; do
	case $opt in
	t) secs=$OPTARG ;;
	j) par=$OPTARG ;;
	b) build=$OPTARG ;;
	n) merge=0 ;;
	R) rerun=0 ;;
	k) keep=(-fork=1 -ignore_crashes=1) ;;
	*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $build in /*) ;; *) build=$src/$build ;; esac

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in "$src"/tests/fuzz/fuzz_*.c; do
		n=$(basename "$f" .c)
		targets+=("${n#fuzz_}")
	done
fi

out=$build/campaign

# run_one NAME: fuzz NAME for $secs seconds in $out/NAME; the log holds stats.
run_one() {
	local t=$1 dir=$out/$1
	rm -rf "$dir"
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp -r "$src/tests/fuzz/corpus/$t/." "$dir/corpus/" 2>/dev/null || true
	# -fork/-jobs are not used: the parallelism is one process per target.
	"$build/tests/fuzz/fuzz_$t" "$dir/corpus" \
		-max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -close_fd_mask=3 ${keep[@]+"${keep[@]}"} \
		>"$dir/log" 2>&1 || true
}

# campaign: build, then run the targets $par at a time.
campaign() {
	local t running=0 bins=()
	CC=clang cmake -S "$src" -B "$build" -DOB_FUZZ=ON -DOB_SANITIZE=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	for t in "${targets[@]}"; do bins+=("fuzz_$t"); done
	cmake --build "$build" -j2 --target "${bins[@]}" >/dev/null
	mkdir -p "$out"
	for t in "${targets[@]}"; do
		run_one "$t" &
		running=$((running + 1))
		if [ "$running" -ge "$par" ]; then
			wait -n || true
			running=$((running - 1))
		fi
	done
	wait || true
}

start=$(date +%s)
[ "$rerun" -eq 0 ] || campaign
end=$(date +%s)

status=0
printf '%-12s %8s %14s %10s %8s %12s %6s\n' target seconds executions exec/s crashes files+/edges+ cov
for t in "${targets[@]}"; do
	dir=$out/$t
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
	if [ -z "$execs" ]; then # -fork mode: "#N: cov: ... exec/s: R ..."
		execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$dir/log" | tail -1)
		rate=$(sed -n 's/^#[0-9]*: cov:.* exec\/s:\{0,1\} \([0-9]*\).*/\1/p' "$dir/log" | tail -1)
	fi
	cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | awk '{print $2}' || true)
	crashes=$(find "$dir/artifacts" -type f | wc -l)
	added=0
	# the corpus holds only inputs that ran cleanly (crashes go to artifacts/)
	if [ "$merge" -eq 1 ]; then
		before=$(find "$src/tests/fuzz/corpus/$t" -type f | wc -l)
		# -use_counters=0: keep inputs that reach new edges, not new
		# hit-count buckets: the same edge coverage in a few hundred
		# small files instead of thousands (the corpus is committed)
		"$build/tests/fuzz/fuzz_$t" -merge=1 -use_counters=0 -max_len=65536 \
			"$src/tests/fuzz/corpus/$t" "$dir/corpus" \
			>"$dir/merge.log" 2>&1 || true
		after=$(find "$src/tests/fuzz/corpus/$t" -type f | wc -l)
		added=$((after - before))
		edges=$(grep -o '[0-9]* new coverage edges' "$dir/merge.log" | awk '{print $1}' || true)
		added="$added/${edges:-0}"
	fi
	[ "$crashes" -eq 0 ] || status=1
	secs_run=$(sed -n -e 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' \
		-e 's/^#[0-9]*: cov:.* time: \([0-9]*\)s.*/\1/p' "$dir/log" | tail -1)
	printf '%-12s %8s %14s %10s %8s %12s %6s\n' "$t" "${secs_run:-?}" "${execs:-?}" \
		"${rate:-?}" "$crashes" "$added" "${cov:-?}"
	if [ "$crashes" -gt 0 ]; then
		find "$dir/artifacts" -type f | sed 's/^/  crash: /'
		grep -m3 -E 'ERROR: (AddressSanitizer|libFuzzer)|runtime error' "$dir/log" |
			sed 's/^/  /' || true
	fi
done
[ "$rerun" -eq 0 ] || echo "wall: $((end - start)) s, $par at a time"
echo "logs in $out/<target>/log; files+/edges+: inputs merged into tests/fuzz/corpus/<target>/ and the coverage edges they add"
exit $status
