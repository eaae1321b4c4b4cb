#!/usr/bin/python3
"""Prints runsc's --pod-init-config for the trace points of POINTS_FILE
(benchmarks/observe/points.txt: a point and its optional fields per line),
each with the context the sidecar uses (time, thread and thread group ids,
cwd), sent to the remote sink listening on SOCKET. With RETRIES, the
sentry retries a point the socket has no room for that many times (backing
off from 25 us to 10 ms) before it drops it; gVisor's default is 0: a point
that does not fit is dropped at once and counted.

    pod_init.py POINTS_FILE SOCKET [RETRIES]
"""
import json
import sys

CONTEXT = ["time", "thread_id", "group_id", "cwd"]


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    points = []
    with open(argv[0]) as f:
        for line in f:
            words = line.split("#")[0].split()
            if words:
                point = {"name": words[0], "context_fields": CONTEXT}
                if len(words) > 1:
                    point["optional_fields"] = words[1].split(",")
                points.append(point)
    config = {"endpoint": argv[1]}
    if len(argv) == 3:
        config["retries"] = int(argv[2])
    # runsc 0.0~20221219 reads "trace_session" (later gVisor: "session")
    print(json.dumps({"trace_session": {"name": "Default", "points": points, "sinks": [
        {"name": "remote", "config": config}]}}, indent=1))


main(sys.argv[1:])
