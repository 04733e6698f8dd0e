#!/usr/bin/env python3
"""The head file's cost (issue 10), against its floor on the same disk in the same run: one
durable SQLite commit (WAL, synchronous=FULL), as the writer makes per batch. Three ways to keep
the head: a temporary file renamed over it (fsync file + rename + fsync directory), and an
in-place write of one of two fixed slots with one fdatasync (what `integrity::write_head` does).
Usage: scripts/bench-head.py [DIR] (default: target/bench-head, on the node's usual disk)."""
import os, sqlite3, statistics, sys, time

d = sys.argv[1] if len(sys.argv) > 1 else "target/bench-head"
os.makedirs(d, exist_ok=True)
note = b"bench.example/log\n123456\n" + b"A" * 44 + b"\n\n\xe2\x80\x94 bench.example/log " + b"B" * 88 + b"\n"
db = sqlite3.connect(os.path.join(d, "floor.db"), isolation_level=None)
db.execute("pragma journal_mode=wal")
db.execute("pragma synchronous=full")
db.execute("create table if not exists t(x blob)")
fd = os.open(os.path.join(d, "log-head.slots"), os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 8192)
os.fsync(fd)
k = [0]

def commit():
    db.execute("begin immediate")
    db.execute("insert into t values(?)", (note * 16,))
    db.execute("commit")

def rename():
    tmp = os.path.join(d, "log-head.tmp")
    with open(tmp, "wb") as f:
        f.write(note)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(d, "log-head.renamed"))
    dfd = os.open(d, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)

def slot():
    k[0] += 1
    os.pwrite(fd, note, 4096 * (k[0] % 2))
    os.fdatasync(fd)

results = {}
for _ in range(2):
    for name, fn in [("sqlite-commit (floor)", commit), ("rename", rename), ("two-slot", slot)]:
        ts = []
        for _ in range(300):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        results.setdefault(name, []).extend(ts)
floor = statistics.median(results["sqlite-commit (floor)"])
for name, ts in results.items():
    p50 = statistics.median(ts)
    p99 = sorted(ts)[int(len(ts) * 0.99)]
    print(f"{name:24} p50 {p50*1e3:6.2f} ms  p99 {p99*1e3:7.2f} ms  p50/floor {p50/floor:4.2f}")
