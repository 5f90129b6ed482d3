# SPDX-License-Identifier: LGPL-2.1-or-later
"""topomap from Python: where the vcpus, cells, emulator threads and memory of guests go on a
NUMA host, and the allocation state that keeps them apart.

The simplest use is one call::

    import topomap
    plan = topomap.plan(topology="host.xml", guests=[{"name": "db", "vcpus": 8}])
    print(plan.guests[0].vcpus[0].cpuset, plan.to_json())

A guest is a dict in the guest file format of the README (``name``, ``vcpus``,
``memory_mib``, ``cells``, ``cpu_policy``...). A :class:`Session` is the transaction and the
ledger the ``topomap`` command runs on: plan around the state, apply through a backend,
verify, release, adopt. Failures raise :class:`NoFit`, :class:`BadInput` or
:class:`ApplyFailed` (all :class:`TopomapError`), carrying the library's one-line message,
its errno code and the step that failed.
"""
import dataclasses
import errno
import json
from typing import List

import re

from ._lib import (APPLY_DRY_RUN, FORMAT_JSON, SESSION_BATCH, SESSION_WRITE,
                   TOPOLOGY_XML_PROBE, ffi, lib, libc)

__all__ = ["plan", "Session", "Topology", "Plan", "GuestPlan", "TopomapError", "NoFit",
           "BadInput", "ApplyFailed", "version"]


class TopomapError(Exception):
    """A failure of the library: .message (one line), .code (negative errno), .step."""

    def __init__(self, message, code=0, step="none"):
        super().__init__(message)
        self.message, self.code, self.step = message, code, step


class NoFit(TopomapError):
    """A guest does not fit (-ENOSPC, step 'place')."""


class BadInput(TopomapError):
    """The caller's input was refused (a guest, a target, a name): nothing changed."""


class ApplyFailed(TopomapError):
    """A backend could not put the plan in force (steps open, apply, read back, restore,
    record, commit); .step says where it stopped."""


_APPLY_STEPS = {"record", "open", "apply", "read back", "restore", "commit"}


def _raise(r, err, step=None):
    message = ffi.string(err.message).decode() or errno.errorcode.get(-r, str(r))
    if step is None:
        step = "place" if r == -errno.ENOSPC else "input" if r in (-errno.EINVAL, -errno.ENOENT) else "none"
    if r == -errno.ENOSPC and step == "place":
        cls = NoFit
    elif step == "input" or (step == "none" and r in (-errno.EINVAL, -errno.ENOENT)):
        cls = BadInput
    elif step in _APPLY_STEPS:
        cls = ApplyFailed
    else:
        cls = TopomapError
    raise cls(message, r, step)


def _take_text(p):
    try:
        return ffi.string(p[0]).decode()
    finally:
        libc.free(p[0])


def version():
    """The library's version."""
    return ffi.string(lib.tmap_version()).decode()


@dataclasses.dataclass
class VcpuPlan:
    vcpu: int
    cpuset: str


@dataclasses.dataclass
class CellPlan:
    cell: int
    cpus: str
    nodeset: str
    memory_mib: int


@dataclasses.dataclass
class GuestPlan:
    """One guest's placement, as the JSON contract gives it."""
    name: str
    vcpus: List[VcpuPlan]
    cells: List[CellPlan]
    emulator: str
    iothreads: List[str]
    memory_mode: str
    memory_nodeset: str
    hugepage_kib: int = 0
    dedicated_cpus: str = ""  # cpu_policy mixed: the vcpus pinned one to one
    realtime_vcpus: str = ""
    """vcpus that run SCHED_FIFO (the guest's realtime_cpus), list syntax; "" when none"""
    realtime_priority: int = 0
    explain: List[str] = dataclasses.field(default_factory=list)
    raw: dict = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, g):
        mem = g.get("memory", {})
        return cls(name=g["name"],
                   vcpus=[VcpuPlan(v["vcpu"], v["cpuset"]) for v in g.get("vcpus", [])],
                   cells=[CellPlan(c["cell"], c["cpus"], c["nodeset"], c["memory_mib"])
                          for c in g.get("cells", [])],
                   emulator=g.get("emulator", {}).get("cpuset", ""),
                   iothreads=[t["cpuset"] for t in g.get("iothreads", [])],
                   memory_mode=mem.get("mode", ""), memory_nodeset=mem.get("nodeset", ""),
                   hugepage_kib=mem.get("hugepage_kib", 0),
                   dedicated_cpus=g.get("dedicated_cpus", ""),
                   realtime_vcpus=g.get("realtime", {}).get("vcpus", ""),
                   realtime_priority=g.get("realtime", {}).get("priority", 0),
                   explain=g.get("explain", []), raw=g)

    @property
    def pus(self):
        """Every host PU of its vcpus, in list syntax order."""
        return [v.cpuset for v in self.vcpus]


@dataclasses.dataclass
class Plan:
    """A plan: its guests as dataclasses, and .to_json(), the library's JSON contract."""
    guests: List[GuestPlan]
    rejected: List[dict]
    json_text: str = dataclasses.field(repr=False)

    def to_json(self):
        return self.json_text

    def guest(self, name):
        for g in self.guests:
            if g.name == name:
                return g
        raise KeyError(name)

    @classmethod
    def _from_c(cls, cplan):
        err = ffi.new("struct tmap_error *")
        out = ffi.new("char **")
        try:
            r = lib.tmap_plan_format(cplan, FORMAT_JSON, 0, out, err)
            if r < 0:
                _raise(r, err, "none")
            text = _take_text(out)
        finally:
            lib.tmap_plan_free(cplan)
        doc = json.loads(text)
        return cls([GuestPlan.from_json(g) for g in doc.get("guests", [])],
                   doc.get("rejected", []), text)


class _Guests:
    """A tmap_guests list parsed from Python dicts (the guest file format)."""

    def __init__(self, guests):
        if isinstance(guests, dict):
            guests = [guests]
        text = json.dumps(list(guests)).encode()
        p = ffi.new("struct tmap_guests **")
        if lib.tmap_guests_new(p) < 0:
            raise MemoryError()
        self.ptr = ffi.gc(p[0], lib.tmap_guests_free)
        err = ffi.new("struct tmap_error *")
        r = lib.tmap_guests_parse_json(self.ptr, text, len(text), b"guests", err)
        if r < 0:
            _raise(r, err, "input")

    def first(self):
        return lib.tmap_guests_get(self.ptr, 0)


def _b(s):
    return s.encode() if isinstance(s, str) else s


def _cstr(s):
    """A C string owned by Python, for a struct field (keep it while the struct is used)."""
    return ffi.new("char[]", _b(s)) if s else ffi.NULL


def _solve_options(opts, reserve):
    opts.size = ffi.sizeof("struct tmap_solve_options")
    keep = _cstr(reserve)
    opts.reserve = keep
    return keep


class Topology:
    """A host model, made by one constructor per kind of host (the library's
    tmap_topology_new_*()): Topology.live(), .synthetic(description), .xml(path),
    .json(path), .backend(name, arg); or Topology.parse(source) for the strings of
    ``topomap --topology``, read here. Raises BadInput for a source that is not a host."""

    _BACKEND = re.compile(r"([a-z0-9-]+):(.*)", re.S)

    def __init__(self, make, *args):
        err = ffi.new("struct tmap_error *")
        p = ffi.new("struct tmap_topology **")
        r = make(*args, p, err)
        if r < 0:
            _raise(r, err, "topology" if r not in (-errno.EINVAL, -errno.ENOENT) else "input")
        self._t = ffi.gc(p[0], lib.tmap_topology_free)

    @classmethod
    def live(cls):
        return cls(lib.tmap_topology_new_live, 0)

    @classmethod
    def synthetic(cls, description):
        return cls(lib.tmap_topology_new_synthetic, _b(description), 0)

    @classmethod
    def xml(cls, path, probe=False):
        """probe: read it with hwloc in a child process first (TMAP_TOPOLOGY_XML_PROBE)."""
        return cls(lib.tmap_topology_new_xml, _b(path), TOPOLOGY_XML_PROBE if probe else 0)

    @classmethod
    def json(cls, path):
        return cls(lib.tmap_topology_new_json, _b(path), 0)

    @classmethod
    def backend(cls, name, arg):
        return cls(lib.tmap_topology_new_backend, _b(name), _b(arg), 0)

    @classmethod
    def parse(cls, source):
        """"live", "synthetic:DESCRIPTION", "NAME:ARG" (a backend), FILE.json, or an hwloc
        XML file (a file named like NAME:ARG is given as ./NAME:ARG)."""
        if isinstance(source, cls):
            return source
        if source is None or source == "live":
            return cls.live()
        if not source:
            raise BadInput("topology '': give live, synthetic:DESCRIPTION, NAME:ARG or a file",
                           -errno.EINVAL, "input")
        if source.startswith("synthetic:"):
            return cls.synthetic(source[len("synthetic:"):])
        m = cls._BACKEND.fullmatch(source)
        if m:
            return cls.backend(m.group(1), m.group(2))
        return cls.json(source) if source.endswith(".json") else cls.xml(source)

    def to_json(self):
        """The host as `topomap topology --format json` gives it (a dict)."""
        return _topology_json(self._t)


def _topology_json(t):
    err = ffi.new("struct tmap_error *")
    text = ffi.new("char **")
    r = lib.tmap_topology_format(t, FORMAT_JSON, 0, text, err)
    if r < 0:
        _raise(r, err)
    return json.loads(_take_text(text))


def plan(topology="live", guests=(), reserve=None):
    """Place guests on an empty host (minus `reserve`), in order; no state, nothing applied.
    topology: a Topology, or a source string (Topology.parse()).

    Raises NoFit when one does not fit, BadInput for a bad guest or host."""
    err = ffi.new("struct tmap_error *")
    t = Topology.parse(topology)._t
    gl = _Guests(guests)
    opts = ffi.new("struct tmap_solve_options *")
    keep = _solve_options(opts, reserve)  # noqa: F841 (held for the call)
    out = ffi.new("struct tmap_plan **")
    r = lib.tmap_solve(t, gl.ptr, opts, out, err)
    if r < 0:
        _raise(r, err)
    return Plan._from_c(out[0])


def _target(options):
    p = ffi.new("struct tmap_target **")
    if lib.tmap_target_new(p) < 0:
        raise MemoryError()
    t = ffi.gc(p[0], lib.tmap_target_free)
    for k, v in (options or {}).items():
        if lib.tmap_target_set(t, _b(k), _b("" if v is True else str(v))) < 0:
            raise BadInput(f"target option '{k}' is not a valid key", -errno.EINVAL, "input")
    return t


class Session:
    """The library's session: a host, its allocation state, one transaction per call.

    Session(topology="live", state=None, write=False, reserve=None): `topology` is a
    Topology or a source string (Topology.parse()); `state` is the state file (None: nothing
    is recorded); `write` locks it for apply, release, adopt and reserve. Use it as a context
    manager, or call close()."""

    def __init__(self, topology="live", state=None, write=False, reserve=None):
        opts = ffi.new("struct tmap_session_options *")
        opts.size = ffi.sizeof("struct tmap_session_options")
        opts.flags = SESSION_WRITE if write else 0
        self._s = None
        # the session borrows the host: it is kept until close()
        self._host = Topology.parse(topology)
        opts.host = self._host._t
        self._keep = [_cstr(state), _cstr(reserve)]
        opts.state, opts.reserve = self._keep
        opts.solve.size = ffi.sizeof("struct tmap_solve_options")
        err = ffi.new("struct tmap_error *")
        p = ffi.new("struct tmap_session **")
        r = lib.tmap_session_open(opts, p, err)
        if r < 0:
            _raise(r, err, "input" if r in (-errno.EINVAL, -errno.ENOENT) else "state")
        self._s = p[0]

    def close(self):
        if self._s is not None:
            lib.tmap_session_close(self._s)
            self._s = None
        self._host = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _check(self, r, err):
        if r < 0:
            _raise(r, err, ffi.string(lib.tmap_step_name(lib.tmap_session_failed_step(self._s))).decode())
        return r

    @property
    def guests(self):
        """The names of the guests the state records, in the order they were placed."""
        return [ffi.string(lib.tmap_session_guest_name(self._s, i)).decode()
                for i in range(lib.tmap_session_guest_count(self._s))]

    @property
    def notices(self):
        return [ffi.string(lib.tmap_session_notice(self._s, i)).decode()
                for i in range(lib.tmap_session_notice_count(self._s))]

    @property
    def reserve(self):
        r = lib.tmap_session_reserve(self._s)
        return ffi.string(r).decode() if r != ffi.NULL else ""

    def topology(self):
        """The host as `topomap topology --format json` gives it (a dict)."""
        return _topology_json(lib.tmap_session_topology(self._s))

    def state(self):
        """What the state holds, as `topomap state --format json` gives it (a dict)."""
        err = ffi.new("struct tmap_error *")
        out = ffi.new("char **")
        self._check(lib.tmap_host_format(lib.tmap_session_host(self._s), FORMAT_JSON, 0, out,
                                         err), err)
        return json.loads(_take_text(out))

    def nrt(self, node_name):
        """The host and its state as a Kubernetes NodeResourceTopology (a dict)."""
        err = ffi.new("struct tmap_error *")
        out = ffi.new("char **")
        self._check(lib.tmap_host_format_nrt(lib.tmap_session_host(self._s), _b(node_name), 0,
                                             out, err), err)
        return json.loads(_take_text(out))

    def plan(self, guests, batch=False):
        """Place guests around what the state records, changing nothing (a what-if)."""
        gl = _Guests(guests)
        err = ffi.new("struct tmap_error *")
        out = ffi.new("struct tmap_plan **")
        self._check(lib.tmap_session_plan(self._s, gl.ptr, SESSION_BATCH if batch else 0, out,
                                          err), err)
        return Plan._from_c(out[0])

    def guest_plan(self, name):
        """The plan a recorded guest holds."""
        err = ffi.new("struct tmap_error *")
        out = ffi.new("struct tmap_plan **")
        r = lib.tmap_session_guest_plan(self._s, _b(name), out, err)
        if r < 0:
            _raise(r, err, "input")
        return Plan._from_c(out[0])

    def apply(self, guest, backend, target, dry_run=False):
        """Place one guest, record it, put it in force through `backend` at `target` (a dict
        of target options, e.g. {"cgroup": "machine.slice/db", "create": True}), read it back,
        record it as applied. Returns its Plan."""
        gl = _Guests(guest)
        t = _target(target)
        err = ffi.new("struct tmap_error *")
        out = ffi.new("struct tmap_plan **")
        self._check(lib.tmap_session_apply(self._s, _b(backend), t, gl.first(),
                                           APPLY_DRY_RUN if dry_run else 0, out, ffi.NULL, err),
                    err)
        return Plan._from_c(out[0])

    def record(self, guest):
        """Place one guest and record it, applying nothing (as `topomap xml-filter`)."""
        gl = _Guests(guest)
        err = ffi.new("struct tmap_error *")
        out = ffi.new("struct tmap_plan **")
        self._check(lib.tmap_session_record(self._s, gl.first(), 0, out, err), err)
        return Plan._from_c(out[0])

    def verify(self, name):
        """Compare what is in force with the recorded plan: [] when in force, else each
        difference."""
        err = ffi.new("struct tmap_error *")
        rep = ffi.new("struct tmap_report **")
        r = self._check(lib.tmap_session_verify(self._s, _b(name), rep, err), err)
        try:
            return [ffi.string(lib.tmap_report_drift(rep[0], i)).decode()
                    for i in range(lib.tmap_report_drift_count(rep[0]))] if r else []
        finally:
            lib.tmap_report_free(rep[0])

    def release(self, name):
        """Free a recorded guest's allocation (its pins stay)."""
        err = ffi.new("struct tmap_error *")
        self._check(lib.tmap_session_release(self._s, _b(name), err), err)

    def adopt(self, backend, target, name=None):
        """Record a guest pinned by hand, as it is pinned."""
        t = _target(target)
        err = ffi.new("struct tmap_error *")
        out = ffi.new("struct tmap_plan **")
        self._check(lib.tmap_session_adopt(self._s, _b(backend), t,
                                           _b(name) if name else ffi.NULL, out, err), err)
        return Plan._from_c(out[0])

    def set_reserve(self, add=None, remove=None):
        err = ffi.new("struct tmap_error *")
        self._check(lib.tmap_session_set_reserve(self._s, _b(add) if add else ffi.NULL,
                                                 _b(remove) if remove else ffi.NULL, err), err)
