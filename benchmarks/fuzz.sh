#!/bin/bash
# Fuzz campaign: builds every libFuzzer target (tests/fuzz/fuzz_*.c) with
# clang + ASan + UBSan in its own build directory, runs each one for a set
# time over a scratch copy of its corpus, reports executions and crashes per
# target, and merges new interesting inputs back into tests/fuzz/corpus/<name>/
# with -merge=1 (only adds files; the saved corpus is replayed by ctest).
#
# Usage: benchmarks/fuzz.sh [-t SECONDS] [-j PARALLEL] [-b BUILD_DIR]
#                           [-n] [TARGET...]
#   -t  seconds per target (default 600)
#   -j  targets run at the same time (default 2)
#   -b  build directory (default build-fuzz)
#   -n  do not merge into the corpus (report only)
#   TARGET: policy, capfile, channel, audit_line... (default: all)
# Not part of CI. Exit status: 0 if no target crashed, 1 otherwise.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
secs=600
par=2
build=build-fuzz
merge=1
while getopts "t:j:b:nh" opt; do
	case $opt in
	t) secs=$OPTARG ;;
	j) par=$OPTARG ;;
	b) build=$OPTARG ;;
	n) merge=0 ;;
	*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
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

CC=clang cmake -S "$src" -B "$build" -DOB_FUZZ=ON -DOB_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
bins=()
for t in "${targets[@]}"; do bins+=("fuzz_$t"); done
cmake --build "$build" -j2 --target "${bins[@]}" >/dev/null

out=$build/campaign
mkdir -p "$out"

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
		-max_len=65536 -close_fd_mask=3 >"$dir/log" 2>&1 || true
}

start=$(date +%s)
running=0
for t in "${targets[@]}"; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$par" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait || true
end=$(date +%s)

status=0
printf '%-12s %8s %14s %10s %8s %8s %8s\n' target seconds executions exec/s crashes corpus+ cov
for t in "${targets[@]}"; do
	dir=$out/$t
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | awk '{print $2}')
	crashes=$(find "$dir/artifacts" -type f | wc -l)
	added=0
	if [ "$crashes" -eq 0 ] && [ "$merge" -eq 1 ]; then
		before=$(find "$src/tests/fuzz/corpus/$t" -type f | wc -l)
		"$build/tests/fuzz/fuzz_$t" -merge=1 -max_len=65536 \
			"$src/tests/fuzz/corpus/$t" "$dir/corpus" \
			>"$dir/merge.log" 2>&1 || true
		after=$(find "$src/tests/fuzz/corpus/$t" -type f | wc -l)
		added=$((after - before))
	fi
	[ "$crashes" -eq 0 ] || status=1
	printf '%-12s %8s %14s %10s %8s %8s %8s\n' "$t" "$secs" "${execs:-?}" \
		"${rate:-?}" "$crashes" "$added" "${cov:-?}"
	if [ "$crashes" -gt 0 ]; then
		find "$dir/artifacts" -type f | sed 's/^/  crash: /'
		grep -m3 -E 'ERROR: (AddressSanitizer|libFuzzer)|runtime error' "$dir/log" |
			sed 's/^/  /' || true
	fi
done
echo "wall: $((end - start)) s, $par at a time; logs in $out/<target>/log"
exit $status
