#!/usr/bin/python3
"""Prints runsc's --pod-init-config for the trace points of POINTS_FILE
(benchmarks/observe/points.txt: a point and its optional fields per line),
each with the context the sidecar uses (time, thread and thread group ids,
cwd), sent to the remote sink listening on SOCKET.

    pod_init.py POINTS_FILE SOCKET
"""
import json
import sys

CONTEXT = ["time", "thread_id", "group_id", "cwd"]


def main(argv):
    if len(argv) != 2:
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
    # runsc 0.0~20221219 reads "trace_session" (later gVisor: "session")
    print(json.dumps({"trace_session": {"name": "Default", "points": points, "sinks": [
        {"name": "remote", "config": {"endpoint": argv[1]}}]}}, indent=1))


main(sys.argv[1:])
