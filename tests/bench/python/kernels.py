"""Pure-Python kernels for `cargo xtask bench python` (written for kiln):
nbody, float, json round-trips, regex, generators, a richards-like
scheduler. Each prints a checksum so both sides must compute the same.

`kernels.py NAME...` runs the named kernels (the bench runs each as its own
workload, so it can report a geometric mean); no argument runs them all.
Sizes are chosen so each kernel takes roughly 0.2-0.5 s natively, which
keeps interpreter start-up a small part of every measurement."""
import json
import math
import re
import sys


def nbody(steps=20000):
    bodies = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 39.47841760435743],
        [4.84, -1.16, -0.10, 0.606, 2.81, -0.02, 0.037],
        [8.34, 4.12, -0.40, -1.01, 1.82, 0.008, 0.011],
        [12.89, -15.11, -0.22, 1.08, 0.868, -0.01, 0.0017],
        [15.37, -25.91, 0.179, 0.979, 0.594, -0.034, 0.002],
    ]
    dt = 0.01
    for _ in range(steps):
        for i, a in enumerate(bodies):
            for b in bodies[i + 1:]:
                dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * math.sqrt(d2))
                am, bm = a[6] * mag, b[6] * mag
                a[3] -= dx * bm; a[4] -= dy * bm; a[5] -= dz * bm
                b[3] += dx * am; b[4] += dy * am; b[5] += dz * am
        for b in bodies:
            b[0] += dt * b[3]; b[1] += dt * b[4]; b[2] += dt * b[5]
    return round(sum(b[0] for b in bodies), 6)


def floats(n=800000):
    total = 0.0
    for i in range(1, n):
        x = math.sin(i) * math.cos(i / 3.0) + math.sqrt(i)
        total += x / (1.0 + i % 7)
    return round(total, 3)


def json_roundtrip(n=300):
    doc = {"items": [{"id": i, "name": f"item{i}", "tags": ["a", "b", str(i)], "price": i * 1.25} for i in range(200)]}
    s = 0
    for _ in range(n):
        s += len(json.loads(json.dumps(doc))["items"])
    return s


def regex(n=12000):
    text = " ".join(f"user{i}@host{i % 17}.example.org id={i}" for i in range(200))
    pat = re.compile(r"(\w+)@(\w+)\.example\.org id=(\d+)")
    return sum(len(pat.findall(text)) for _ in range(n // 10))


def generators(n=1200000):
    def gen(k):
        for i in range(k):
            yield i * i
    return sum(x for x in gen(n) if x % 3)


def richards_like(rounds=600000):
    # A tiny cooperative scheduler: tasks pass packets around a ring.
    queue = [[i, 0] for i in range(8)]
    handled = 0
    for r in range(rounds):
        task = queue[r % 8]
        task[1] += 1
        nxt = queue[(task[0] * 3 + r) % 8]
        nxt[1] ^= task[1] & 0xFF
        handled += nxt[1] & 1
    return handled


KERNELS = {
    "nbody": nbody,
    "floats": floats,
    "json": json_roundtrip,
    "regex": regex,
    "generators": generators,
    "richards": richards_like,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(KERNELS)
    unknown = [n for n in names if n not in KERNELS]
    if unknown:
        sys.exit(f"kernels.py: unknown kernel(s) {unknown}; known: {list(KERNELS)}")
    print(*(KERNELS[n]() for n in names))
