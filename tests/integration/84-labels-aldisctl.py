#!/usr/bin/python3
"""84-labels-aldisctl: the label commands of aldisctl (docs/aldisctl.md):
`init` writes the example policy that aldis.yaml names, `policy check`
summarises a valid SPIF and exits 1 on a bad one, `user clearance` sets,
shows and clears a clearance checked against the policy (unknown
classification or category: exit 1; malformed options: exit 2), and
`room clearance` does the same for a room."""

import os

from harness import ALDISCTL, Server, TestFailure, run_tests, yaml_load

srv = Server()


def expect(p, code, *words):
    if p.returncode != code:
        raise TestFailure("exit %d, expected %d:\n%s" % (p.returncode, code, p.stdout))
    for w in words:
        if w not in p.stdout:
            raise TestFailure("output lacks %r:\n%s" % (w, p.stdout))


async def test_init_writes_policy(srv):
    path = os.path.join(srv.dir, "policy.xml")
    if not os.path.isfile(path):
        raise TestFailure("aldisctl init wrote no policy.xml")
    with open(srv.config_path) as f:
        sec = yaml_load(f.read()).get("security") or {}
    if sec.get("policy") != "policy.xml":
        raise TestFailure("aldis.yaml security.policy is %r" % sec.get("policy"))
    expect(srv._run_ctl("policy", "check", path, check=False), 0, "UNCLASSIFIED", "TOP SECRET",
           "Releasable To", "permissive", "restrictive")


async def test_policy_check_bad_file(srv):
    bad = os.path.join(srv.dir, "bad-policy.xml")
    with open(bad, "w") as f:
        f.write("<SPIF xmlns='http://www.xmlspif.org/spif'><broken")
    expect(srv._run_ctl("policy", "check", bad, check=False), 1, "aldisctl:")
    expect(srv._run_ctl("policy", "check", check=False), 2)


async def test_user_clearance_set_show_clear(srv):
    bare, _ = srv.new_user("cl")
    expect(srv.ctl("user", "clearance", bare, "--show", check=False), 0, "no clearance set",
           "UNCLASSIFIED")
    expect(srv.ctl("user", "clearance", bare, "--classification", "SECRET", "--category",
                   "Releasable To=GBR", "--category", "Releasable To=USA", check=False), 0,
           "SECRET", "GBR", "USA")
    p = srv.ctl("user", "clearance", bare, "--show", check=False)
    expect(p, 0, "SECRET", "Releasable To=GBR,USA")
    expect(srv.ctl("user", "clearance", bare, "--clear", check=False), 0, "removed")
    expect(srv.ctl("user", "clearance", bare, "--show", check=False), 0, "no clearance set")


async def test_user_clearance_errors(srv):
    bare, _ = srv.new_user("cl")
    expect(srv.ctl("user", "clearance", bare, "--classification", "COSMIC", check=False), 1)
    expect(srv.ctl("user", "clearance", bare, "--classification", "SECRET", "--category",
                   "Releasable To=MARS", check=False), 1)
    expect(srv.ctl("user", "clearance", bare, "--classification", "SECRET", "--category",
                   "no-equals-sign", check=False), 2)
    expect(srv.ctl("user", "clearance", bare, "--show", "--clear", check=False), 2)
    expect(srv.ctl("user", "clearance", "nobody@elsewhere.example", "--show", check=False), 1)
    expect(srv.ctl("user", "add", "x@" + srv.domain, "pw", "--classification", "SECRET",
                   check=False), 2)
    # nothing was stored by the failures
    expect(srv.ctl("user", "clearance", bare, "--show", check=False), 0, "no clearance set")


async def test_room_clearance(srv):
    room = "war-room@conference." + srv.domain
    expect(srv.ctl("room", "clearance", room, "--classification", "CONFIDENTIAL", check=False),
           0, "CONFIDENTIAL")
    expect(srv.ctl("room", "clearance", room, "--show", check=False), 0, "CONFIDENTIAL")
    expect(srv.ctl("room", "clearance", "not a jid", "--show", check=False), 2)


if __name__ == "__main__":
    if not os.access(ALDISCTL, os.X_OK):
        raise SystemExit("aldisctl not built")
    run_tests([test_init_writes_policy, test_policy_check_bad_file,
               test_user_clearance_set_show_clear, test_user_clearance_errors,
               test_room_clearance], srv)
