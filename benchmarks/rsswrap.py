# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interpreter wrapper for the benchmark (set as ansible_python_interpreter through a generated
shell script): runs the module with the real Python as a child and appends one JSON line per
module run to LOG: module FQN, peak RSS (ru_maxrss of the child and its waited-for children),
wall and CPU seconds.  With --profile DIR the module runs under cProfile, output in DIR.

    rsswrap.py --python REAL --log LOG [--profile DIR] -- [ANSIBALLZ_FILE]

With pipelining Ansible writes the module to the interpreter's stdin; otherwise it passes the
AnsiballZ file as the argument.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time

FQN = re.compile(rb"^module_fqn='([^']+)',$", re.M)
# Not `python -m cProfile FILE`: AnsiballZ drops the directory of __main__.__file__ (then
# cProfile's, the stdlib) from sys.path.  Under -c there is no __main__.__file__.
PROFILED = """
import cProfile, sys
path, out = sys.argv[1], sys.argv[2]
with open(path) as handle:
    code = compile(handle.read(), path, "exec")
profile = cProfile.Profile()
try:
    profile.runctx(code, {"__name__": "__main__", "__builtins__": __builtins__}, None)
finally:
    profile.dump_stats(out)
"""


def main(argv):
    python, log, profile = None, None, None
    while argv and argv[0] != "--":
        option, value, argv = argv[0], argv[1], argv[2:]
        if option == "--python":
            python = value
        elif option == "--log":
            log = value
        elif option == "--profile":
            profile = value
    rest = argv[1:]
    if rest and rest[0] not in ("-",) and os.path.isfile(rest[0]):
        with open(rest[0], "rb") as handle:
            payload = handle.read()
    else:
        payload = sys.stdin.buffer.read()
    match = FQN.search(payload)
    fqn = match.group(1).decode() if match else "unknown"

    cleanup = None
    if profile:
        os.makedirs(profile, exist_ok=True)
        fd, cleanup = tempfile.mkstemp(prefix="xb-mod-", suffix=".py")
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        out = os.path.join(profile, "%s-%d-%d.prof" % (fqn.rsplit(".", 1)[-1], int(time.time() * 1000), os.getpid()))
        child_argv = [python, "-c", PROFILED, cleanup, out]
    else:
        child_argv = [python]

    start = time.monotonic()
    child = subprocess.Popen(child_argv, stdin=subprocess.PIPE)
    try:
        if not profile:
            child.stdin.write(payload)
        child.stdin.close()
    except BrokenPipeError:
        pass
    dummy, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    if cleanup:
        os.unlink(cleanup)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({
            "fqn": fqn, "maxrss_kib": usage.ru_maxrss, "wall": round(wall, 4),
            "utime": round(usage.ru_utime, 4), "stime": round(usage.ru_stime, 4),
            "payload_bytes": len(payload), "end": time.time(), "rc": child.returncode,
        }) + "\n")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
