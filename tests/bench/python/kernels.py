"""Pure-Python kernels for `cargo xtask bench python` (written for kiln):
nbody, float, json round-trips, regex, generators, Richards and
DeltaBlue. Each prints a checksum so both sides must compute the same.

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


# DeltaBlue (Maloney and Freeman-Benson's incremental constraint solver),
# written here from the published algorithm: a chain of equality
# constraints and a projection through scale/offset constraints, each
# re-planned under edits. Strengths: 0 = required ... 6 = weakest.
REQUIRED, STRONG_PREFERRED, PREFERRED, STRONG_DEFAULT, NORMAL, WEAK_DEFAULT, WEAKEST = range(7)
NEXT_WEAKER = (WEAKEST, WEAK_DEFAULT, NORMAL, STRONG_DEFAULT, PREFERRED, STRONG_PREFERRED)
NONE, FORWARD, BACKWARD = 0, 1, 2


class DbVar:
    def __init__(self, value=0):
        self.value = value
        self.constraints = []
        self.determined_by = None
        self.walk_strength = WEAKEST
        self.stay = True
        self.mark = 0

    def remove(self, c):
        self.constraints.remove(c)
        if self.determined_by is c:
            self.determined_by = None


class DbConstraint:
    def __init__(self, strength):
        self.strength = strength

    def is_input(self):
        return False

    def add(self):
        self.add_to_graph()
        PLANNER.incremental_add(self)

    def satisfy(self, mark):
        self.choose_method(mark)
        if not self.is_satisfied():
            if self.strength == REQUIRED:
                raise RuntimeError("deltablue: could not satisfy a required constraint")
            return None
        self.mark_inputs(mark)
        out = self.output()
        overridden = out.determined_by
        if overridden is not None:
            overridden.mark_unsatisfied()
        out.determined_by = self
        if not PLANNER.add_propagate(self, mark):
            raise RuntimeError("deltablue: cycle")
        out.mark = mark
        return overridden

    def destroy(self):
        if self.is_satisfied():
            PLANNER.incremental_remove(self)
        else:
            self.remove_from_graph()


class DbUnary(DbConstraint):
    def __init__(self, v, strength):
        super().__init__(strength)
        self.out = v
        self.satisfied = False
        self.add()

    def add_to_graph(self):
        self.out.constraints.append(self)
        self.satisfied = False

    def choose_method(self, mark):
        self.satisfied = self.out.mark != mark and self.strength < self.out.walk_strength

    def is_satisfied(self):
        return self.satisfied

    def mark_inputs(self, mark):
        pass

    def output(self):
        return self.out

    def recalculate(self):
        self.out.walk_strength = self.strength
        self.out.stay = not self.is_input()
        if self.out.stay:
            self.execute()

    def mark_unsatisfied(self):
        self.satisfied = False

    def inputs_known(self, mark):
        return True

    def remove_from_graph(self):
        self.out.remove(self)
        self.satisfied = False

    def execute(self):
        pass


class DbStay(DbUnary):
    pass


class DbEdit(DbUnary):
    def is_input(self):
        return True


class DbBinary(DbConstraint):
    def __init__(self, v1, v2, strength):
        super().__init__(strength)
        self.v1, self.v2 = v1, v2
        self.direction = NONE
        self.add()

    def choose_method(self, mark):
        v1, v2, s = self.v1, self.v2, self.strength
        if v1.mark == mark:
            self.direction = FORWARD if v2.mark != mark and s < v2.walk_strength else NONE
        elif v2.mark == mark:
            self.direction = BACKWARD if v1.mark != mark and s < v1.walk_strength else NONE
        elif v1.walk_strength > v2.walk_strength:
            self.direction = BACKWARD if s < v1.walk_strength else NONE
        else:
            self.direction = FORWARD if s < v2.walk_strength else NONE

    def add_to_graph(self):
        self.v1.constraints.append(self)
        self.v2.constraints.append(self)
        self.direction = NONE

    def is_satisfied(self):
        return self.direction != NONE

    def mark_inputs(self, mark):
        self.input().mark = mark

    def input(self):
        return self.v1 if self.direction == FORWARD else self.v2

    def output(self):
        return self.v2 if self.direction == FORWARD else self.v1

    def recalculate(self):
        i, o = self.input(), self.output()
        o.walk_strength = max(self.strength, i.walk_strength)
        o.stay = i.stay
        if o.stay:
            self.execute()

    def mark_unsatisfied(self):
        self.direction = NONE

    def inputs_known(self, mark):
        i = self.input()
        return i.mark == mark or i.stay or i.determined_by is None

    def remove_from_graph(self):
        self.v1.remove(self)
        self.v2.remove(self)
        self.direction = NONE


class DbEqual(DbBinary):
    def execute(self):
        self.output().value = self.input().value


class DbScale(DbBinary):
    def __init__(self, src, scale, offset, dst, strength):
        self.scale, self.offset = scale, offset
        super().__init__(src, dst, strength)

    def add_to_graph(self):
        super().add_to_graph()
        self.scale.constraints.append(self)
        self.offset.constraints.append(self)

    def remove_from_graph(self):
        super().remove_from_graph()
        self.scale.remove(self)
        self.offset.remove(self)

    def mark_inputs(self, mark):
        super().mark_inputs(mark)
        self.scale.mark = self.offset.mark = mark

    def execute(self):
        if self.direction == FORWARD:
            self.v2.value = self.v1.value * self.scale.value + self.offset.value
        else:
            self.v1.value = (self.v2.value - self.offset.value) // self.scale.value

    def recalculate(self):
        i, o = self.input(), self.output()
        o.walk_strength = max(self.strength, i.walk_strength)
        o.stay = i.stay and self.scale.stay and self.offset.stay
        if o.stay:
            self.execute()


class DbPlanner:
    def __init__(self):
        self.mark = 0

    def new_mark(self):
        self.mark += 1
        return self.mark

    def incremental_add(self, c):
        mark = self.new_mark()
        overridden = c.satisfy(mark)
        while overridden is not None:
            overridden = overridden.satisfy(mark)

    def incremental_remove(self, c):
        out = c.output()
        c.mark_unsatisfied()
        c.remove_from_graph()
        unsatisfied = self.remove_propagate_from(out)
        strength = REQUIRED
        while True:
            for u in unsatisfied:
                if u.strength == strength:
                    self.incremental_add(u)
            strength = NEXT_WEAKER[strength]
            if strength == WEAKEST:
                break

    def make_plan(self, sources):
        mark = self.new_mark()
        plan, todo = [], list(sources)
        while todo:
            c = todo.pop(0)
            if c.output().mark != mark and c.inputs_known(mark):
                plan.append(c)
                c.output().mark = mark
                self.consumers(c.output(), todo)
        return plan

    def add_propagate(self, c, mark):
        todo = [c]
        while todo:
            d = todo.pop(0)
            if d.output().mark == mark:
                self.incremental_remove(c)
                return False
            d.recalculate()
            self.consumers(d.output(), todo)
        return True

    def remove_propagate_from(self, out):
        out.determined_by = None
        out.walk_strength = WEAKEST
        out.stay = True
        unsatisfied, todo = [], [out]
        while todo:
            v = todo.pop(0)
            for c in v.constraints:
                if not c.is_satisfied():
                    unsatisfied.append(c)
            for c in v.constraints:
                if c is not v.determined_by and c.is_satisfied():
                    c.recalculate()
                    todo.append(c.output())
        return unsatisfied

    def consumers(self, v, coll):
        for c in v.constraints:
            if c is not v.determined_by and c.is_satisfied():
                coll.append(c)


PLANNER = None


def db_change(v, value):
    edit = DbEdit(v, PREFERRED)
    plan = PLANNER.make_plan([edit])
    for _ in range(10):
        v.value = value
        for c in plan:
            c.execute()
    edit.destroy()


def db_chain(n):
    global PLANNER
    PLANNER = DbPlanner()
    prev = first = last = None
    for i in range(n + 1):
        v = DbVar()
        if prev is not None:
            DbEqual(prev, v, REQUIRED)
        if i == 0:
            first = v
        last = prev = v
    DbStay(last, STRONG_DEFAULT)
    edit = DbEdit(first, PREFERRED)
    plan = PLANNER.make_plan([edit])
    for i in range(100):
        first.value = i
        for c in plan:
            c.execute()
        if last.value != i:
            raise RuntimeError("deltablue: chain test failed")
    return last.value


def db_projection(n):
    global PLANNER
    PLANNER = DbPlanner()
    scale, offset = DbVar(10), DbVar(1000)
    dests = []
    for i in range(n):
        src, dst = DbVar(i), DbVar(i)
        dests.append(dst)
        DbStay(src, NORMAL)
        DbScale(src, scale, offset, dst, REQUIRED)
    db_change(src, 17)
    if dst.value != 1170:
        raise RuntimeError("deltablue: projection 1 failed")
    db_change(dst, 1050)
    if src.value != 5:
        raise RuntimeError("deltablue: projection 2 failed")
    db_change(scale, 5)
    if any(dests[i].value != i * 5 + 1000 for i in range(n - 1)):
        raise RuntimeError("deltablue: projection 3 failed")
    db_change(offset, 2000)
    if any(dests[i].value != i * 5 + 2000 for i in range(n - 1)):
        raise RuntimeError("deltablue: projection 4 failed")
    return dests[-2].value


def deltablue(rounds=40, n=100):
    total = 0
    for _ in range(rounds):
        total += db_chain(n) + db_projection(n)
    return total


# Richards (Martin Richards' OS scheduler simulation), written here from
# the published algorithm: an idle task, a worker, two handlers and two
# devices passing packets. One run must end with 9297 holds and 23246
# queued packets, the benchmark's own check.
BUFSIZE = 4
I_IDLE, I_WORK, I_HANDLERA, I_HANDLERB, I_DEVA, I_DEVB = range(1, 7)
K_DEV, K_WORK = 1000, 1001


class RPacket:
    def __init__(self, link, ident, kind):
        self.link, self.ident, self.kind = link, ident, kind
        self.datum = 0
        self.data = [0] * BUFSIZE

    def append_to(self, queue):
        self.link = None
        if queue is None:
            return self
        p = queue
        while p.link is not None:
            p = p.link
        p.link = self
        return queue


class RSched:
    def __init__(self):
        self.tasks = [None] * 7
        self.first = None
        self.holds = 0
        self.queued = 0


class RTask:
    def __init__(self, sched, ident, priority, queue, pending, waiting, rec):
        self.sched = sched
        self.link = sched.first
        self.ident, self.priority, self.input = ident, priority, queue
        self.pending, self.waiting, self.holding = pending, waiting, False
        self.rec = rec
        sched.first = self
        sched.tasks[ident] = self

    def add_packet(self, p, old):
        if self.input is None:
            self.input = p
            self.pending = True
            if self.priority > old.priority:
                return self
        else:
            p.append_to(self.input)
        return old

    def run(self):
        if self.pending and self.waiting and not self.holding:
            msg = self.input
            self.input = msg.link
            self.pending = self.input is not None
            self.waiting = self.holding = False
        else:
            msg = None
        return self.fn(msg)

    def wait(self):
        self.waiting = True
        return self

    def hold(self):
        self.sched.holds += 1
        self.holding = True
        return self.link

    def release(self, ident):
        t = self.sched.tasks[ident]
        t.holding = False
        return t if t.priority > self.priority else self

    def qpkt(self, pkt):
        t = self.sched.tasks[pkt.ident]
        self.sched.queued += 1
        pkt.link = None
        pkt.ident = self.ident
        return t.add_packet(pkt, self)


class RIdle(RTask):
    def fn(self, pkt):
        r = self.rec
        r["count"] -= 1
        if r["count"] == 0:
            return self.hold()
        if r["control"] & 1 == 0:
            r["control"] //= 2
            return self.release(I_DEVA)
        r["control"] = (r["control"] // 2) ^ 0xD008
        return self.release(I_DEVB)


class RWorker(RTask):
    def fn(self, pkt):
        if pkt is None:
            return self.wait()
        r = self.rec
        r["dest"] = I_HANDLERB if r["dest"] == I_HANDLERA else I_HANDLERA
        pkt.ident = r["dest"]
        pkt.datum = 0
        for i in range(BUFSIZE):
            r["count"] += 1
            if r["count"] > 26:
                r["count"] = 1
            pkt.data[i] = 64 + r["count"]
        return self.qpkt(pkt)


class RHandler(RTask):
    def fn(self, pkt):
        r = self.rec
        if pkt is not None:
            key = "work" if pkt.kind == K_WORK else "dev"
            r[key] = pkt.append_to(r[key])
        work = r["work"]
        if work is None:
            return self.wait()
        count = work.datum
        if count >= BUFSIZE:
            r["work"] = work.link
            return self.qpkt(work)
        dev = r["dev"]
        if dev is None:
            return self.wait()
        r["dev"] = dev.link
        dev.datum = work.data[count]
        work.datum = count + 1
        return self.qpkt(dev)


class RDevice(RTask):
    def fn(self, pkt):
        r = self.rec
        if pkt is None:
            pkt = r["pending"]
            if pkt is None:
                return self.wait()
            r["pending"] = None
            return self.qpkt(pkt)
        r["pending"] = pkt
        return self.hold()


def richards_once():
    s = RSched()
    RIdle(s, I_IDLE, 1, None, False, False, {"control": 1, "count": 10000})
    q = RPacket(RPacket(None, 0, K_WORK), 0, K_WORK)
    RWorker(s, I_WORK, 1000, q, True, True, {"dest": I_HANDLERA, "count": 0})
    for ident, prio, dev in ((I_HANDLERA, 2000, I_DEVA), (I_HANDLERB, 3000, I_DEVB)):
        q = RPacket(RPacket(RPacket(None, dev, K_DEV), dev, K_DEV), dev, K_DEV)
        RHandler(s, ident, prio, q, True, True, {"work": None, "dev": None})
    RDevice(s, I_DEVA, 4000, None, False, True, {"pending": None})
    RDevice(s, I_DEVB, 5000, None, False, True, {"pending": None})
    t = s.first
    while t is not None:
        if t.holding or (not t.pending and t.waiting):
            t = t.link
        else:
            t = t.run()
    if (s.holds, s.queued) != (9297, 23246):
        raise RuntimeError(f"richards: {s.holds} holds, {s.queued} packets; expected 9297, 23246")
    return s.holds + s.queued


def richards(rounds=5):
    return sum(richards_once() for _ in range(rounds))


KERNELS = {
    "nbody": nbody,
    "floats": floats,
    "json": json_roundtrip,
    "regex": regex,
    "generators": generators,
    "richards": richards,
    "deltablue": deltablue,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(KERNELS)
    unknown = [n for n in names if n not in KERNELS]
    if unknown:
        sys.exit(f"kernels.py: unknown kernel(s) {unknown}; known: {list(KERNELS)}")
    print(*(KERNELS[n]() for n in names))
