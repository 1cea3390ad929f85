"""dask.distributed's side of bench/compare: the workloads of bench/lib/workloads.mjs.

A driver on stdin/stdout, started by bench/compare/run.mjs: it prints one JSON line
{"ready": true, "versions": {...}} once its LocalCluster (2 processes x 1 thread) is up, then
answers each line "<workload> <run>" with {"value": <figure>} in the workload's unit (see
UNITS in bench/lib/workloads.mjs), and ends on "quit". Sizes come from the command line as
JSON, so both sides run the same workloads.
"""
import json
import sys
import time

import numpy as np
import dask
import distributed
from distributed import Client, LocalCluster, wait


def inc(x):
    return x + 1


def random(n):
    return np.random.random(n)


def add(a, b):
    return a + b


def total(a):
    return float(a.sum())


def full(n):
    return np.full(n, 1.5)


def length(x):
    return len(x)


def start_cluster():
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)


def submit_loop(client, r, sizes):
    n = sizes["submitLoop"]
    t = time.perf_counter()
    fs = [client.submit(inc, i + r * n) for i in range(n)]
    client.gather(fs)
    dt = time.perf_counter() - t
    del fs
    return n / dt


def map_(client, r, sizes):
    n = sizes["map"]
    t = time.perf_counter()
    fs = client.map(inc, [i + r * 1_000_000 for i in range(n)])
    client.gather(fs)
    dt = time.perf_counter() - t
    del fs
    return n / dt


def round_trip(client, r, sizes):
    """Median µs from one submit to its result, one task at a time (nothing else in flight)."""
    times = []
    for i in range(sizes["roundTrips"]):
        t = time.perf_counter()
        f = client.submit(inc, i + r * 1_000_000)
        v = f.result()
        times.append(time.perf_counter() - t)
        del f
        if v != i + r * 1_000_000 + 1:
            raise RuntimeError(f"round trip gave {v}")
    times.sort()
    return times[len(times) // 2] * 1e6


def chain(client, r, sizes):
    n = sizes["chain"]
    t = time.perf_counter()
    fs = [client.submit(inc, 0, pure=False)]
    for _ in range(1, n):
        fs.append(client.submit(inc, fs[-1]))
    v = fs[-1].result()
    dt = time.perf_counter() - t
    if v != n:
        raise RuntimeError(f"chain gave {v}")
    del fs
    return dt * 1e6 / n


def tree_reduction(client, r, sizes):
    t = time.perf_counter()
    inputs = client.map(random, [sizes["treeLength"]] * sizes["treeArrays"], pure=False)
    sums = client.map(total, inputs)
    layer = inputs
    while len(layer) > 1:
        nxt = [client.submit(add, layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
        if len(layer) % 2 == 1:
            nxt.append(layer[-1])
        layer = nxt
    result = layer[0].result()
    dt = time.perf_counter() - t
    expected = sum(client.gather(sums))
    if abs(float(result.sum()) - expected) > 1e-6 * expected:
        raise RuntimeError("tree reduction gave a wrong sum")
    return dt


# A move timed at less than this (the remote task no slower than the local one) counts as this, in s.
MIN_MOVE_S = 0.001


def made_on_first(client, sizes):
    """A 100 MB float64 array made on the first worker and left there; the two workers."""
    w0, w1 = sorted(client.scheduler_info()["workers"])
    a = client.submit(full, int(sizes["transferBytes"] // 8), workers=[w0], pure=False)
    wait(a)
    return a, w0, w1


def time_length(client, worker, a, sizes):
    """Seconds from submit to result of `length` pinned to `worker`, on the value of `a`."""
    t = time.perf_counter()
    b = client.submit(length, a, workers=[worker], pure=False)
    n = b.result()
    dt = time.perf_counter() - t
    if n != sizes["transferBytes"] // 8:
        raise RuntimeError(f"length gave {n}")
    del b
    return dt


def transfer(client, r, sizes):
    """MB/s of the move alone: the task on the other worker less the same task on the input's own."""
    a, w0, w1 = made_on_first(client, sizes)
    local = time_length(client, w0, a, sizes)
    remote = time_length(client, w1, a, sizes)
    del a
    return sizes["transferBytes"] / 1e6 / max(remote - local, MIN_MOVE_S)


def local_input(client, r, sizes):
    """Milliseconds of a task taking the 100 MB array made on its own worker and returning its length."""
    a, w0, _ = made_on_first(client, sizes)
    ms = time_length(client, w0, a, sizes) * 1000
    del a
    return ms


def cold_start(client, r, sizes):
    t = time.perf_counter()
    with start_cluster() as cluster, Client(cluster) as c:
        c.submit(inc, 1).result()
        dt = time.perf_counter() - t
    return dt


WORKLOADS = {
    "submit-loop": submit_loop,
    "map": map_,
    "round-trip": round_trip,
    "chain": chain,
    "tree-reduction": tree_reduction,
    "transfer": transfer,
    "local-input": local_input,
    "cold-start": cold_start,
}


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    sizes = json.loads(sys.argv[1])
    with start_cluster() as cluster, Client(cluster) as client:
        versions = {
            "python": sys.version.split()[0],
            "distributed": distributed.__version__,
            "dask": dask.__version__,
            "numpy": np.__version__,
        }
        say({"ready": True, "versions": versions})
        while True:
            line = sys.stdin.readline()
            if not line or line.strip() == "quit":
                break
            name, r = line.split()
            try:
                say({"value": WORKLOADS[name](client, int(r), sizes)})
            except Exception as e:  # reported to the runner, which stops
                say({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
