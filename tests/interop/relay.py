#!/usr/bin/python3
"""Wire two line-protocol peers together and record the conversation.

usage: relay.py --log LOG [options] -- INITIATOR_CMD... --- ACCEPTOR_CMD...

Both commands speak the protocol of `negoex initiate|accept` (and mit_peer):
they print `TOKEN <hex>` (or `TOKEN -`), then `STATUS CONTINUE|COMPLETE|ERROR
<text>`, and read the peer's tokens one hex line each. The relay starts both,
passes every `TOKEN <hex>` from one's stdout to the other's stdin (`TOKEN -`
is not passed on), and writes LOG:

    i2a <hex>                     one line per token, in wire order
    a2i <hex>
    # stalled: ...                (only when the relay had to end a stall)
    result initiator STATUS COMPLETE exit 0
    result acceptor STATUS ERROR <text> exit 1

`STATUS NONE` when a side printed no STATUS line; after `exit N` may follow
`signal NAME` (N is then minus the signal number) and `timeout` (killed by the
relay). Each side's stderr goes to LOG.initiator.err / LOG.acceptor.err.

Tokens are passed on as bare hex lines. When one side has finished (a
COMPLETE or ERROR status, or end of its output), it will send nothing more,
so the other's stdin is closed once everything for it is written: a side
still waiting for a token reads end of input and stops. A token that comes
after its receiver finished is logged but not passed on. When both
sides are alive, both wait for a token (the last STATUS said CONTINUE, or
the acceptor has not started) and neither has a token it has not answered
(counting one answer per STATUS line, the initiator's first needing no
token), and nothing happens for --stall seconds, the relay closes both
stdins (a `# stalled` line in the log). After --timeout seconds in all, both
process groups are killed.

Exit status: 0 if both sides printed STATUS COMPLETE as their last status and
exited 0; with --expect-fail, 0 if both failed cleanly (last status ERROR or a
non-zero exit; no signal, no timeout, no stall). 1 otherwise (a stall or a
timeout always), 2 for usage errors or a command that cannot start.
One summary line goes to stdout.

options:
  --log LOG           the log file (required)
  --timeout SEC       kill both after SEC seconds (default 20)
  --stall SEC         quiet time before a stall is ended (default 2)
  --expect-fail       success means both sides failed cleanly
  --env KEY=VAL       set KEY in both sides' environment (repeatable)
  --ienv KEY=VAL      set KEY in the initiator's environment only (repeatable)
  --aenv KEY=VAL      set KEY in the acceptor's environment only (repeatable)
  --unset KEY         remove KEY from both sides' environment (repeatable)
  -v, --verbose       echo every line the two sides print to stderr

The environment is otherwise passed through unchanged.
"""

import os
import selectors
import signal
import subprocess
import sys
import time

ROLES = ("initiator", "acceptor")
DIRECTION = {"initiator": "i2a", "acceptor": "a2i"}


def usage_error(msg):
    sys.stderr.write("relay.py: %s\n" % msg)
    sys.stderr.write("usage: relay.py --log LOG [options] -- INITIATOR_CMD... --- ACCEPTOR_CMD...\n")
    sys.exit(2)


def parse_args(argv):
    opts = {
        "log": None,
        "timeout": 20.0,
        "stall": 2.0,
        "expect_fail": False,
        "env": {"initiator": {}, "acceptor": {}},
        "unset": [],
        "verbose": False,
    }
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            sys.exit(0)
        if a in ("--expect-fail",):
            opts["expect_fail"] = True
            i += 1
            continue
        if a in ("-v", "--verbose"):
            opts["verbose"] = True
            i += 1
            continue
        if a not in ("--log", "--timeout", "--stall", "--env", "--ienv", "--aenv", "--unset"):
            usage_error("unknown option '%s'" % a)
        if i + 1 >= len(argv):
            usage_error("%s needs a value" % a)
        v = argv[i + 1]
        i += 2
        if a == "--log":
            opts["log"] = v
        elif a in ("--timeout", "--stall"):
            try:
                opts[a[2:]] = float(v)
            except ValueError:
                usage_error("%s takes seconds" % a)
            if opts[a[2:]] <= 0:
                usage_error("%s takes seconds > 0" % a)
        elif a == "--unset":
            opts["unset"].append(v)
        else:
            if "=" not in v or v.startswith("="):
                usage_error("%s takes KEY=VALUE" % a)
            key, val = v.split("=", 1)
            sides = ROLES if a == "--env" else (("initiator",) if a == "--ienv" else ("acceptor",))
            for s in sides:
                opts["env"][s][key] = val
    else:
        usage_error("missing '--' before the initiator's command")
    rest = argv[i:]
    if "---" not in rest:
        usage_error("missing '---' between the two commands")
    k = rest.index("---")
    cmds = {"initiator": rest[:k], "acceptor": rest[k + 1:]}
    for role in ROLES:
        if not cmds[role]:
            usage_error("empty %s command" % role)
    if opts["log"] is None:
        usage_error("--log is required")
    return opts, cmds


class Side:
    def __init__(self, role, cmd, env, errfile):
        self.role = role
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errfile,
                                     env=env, start_new_session=True)
        self.out_fd = self.proc.stdout.fileno()
        self.in_fd = self.proc.stdin.fileno()
        os.set_blocking(self.out_fd, False)
        os.set_blocking(self.in_fd, False)
        self.partial = b""
        self.stdout_open = True
        self.stdin_open = True
        self.pending_write = b""    # bytes for its stdin not written yet
        self.close_after_write = False
        self.status = None          # last STATUS line, without the keyword
        self.statuses = 0           # STATUS lines printed
        self.tokens_in = 0          # tokens passed to it
        self.tokens_out = 0
        self.finished = False       # COMPLETE/ERROR printed or stdout ended
        self.returncode = None
        self.timed_out = False

    def answered(self):
        """Tokens it has answered: one per STATUS, the initiator's first answers none."""
        n = self.statuses - (1 if self.role == "initiator" else 0)
        return max(n, 0)

    def waiting_idle(self):
        """Alive and waiting for a token that nobody has sent."""
        if self.finished or self.pending_write or self.tokens_in > self.answered():
            return False
        if self.status is None:  # the acceptor waits for its first token, the initiator is busy
            return self.role == "acceptor"
        return self.status.split(" ", 1)[0] == "CONTINUE"


def main(argv):
    opts, cmds = parse_args(argv)
    log_path = opts["log"]
    base_env = dict(os.environ)
    for key in opts["unset"]:
        base_env.pop(key, None)
    sides = {}
    errfiles = []
    try:
        for role in ROLES:
            env = dict(base_env)
            env.update(opts["env"][role])
            ef = open("%s.%s.err" % (log_path, role), "wb")
            errfiles.append(ef)
            try:
                sides[role] = Side(role, cmds[role], env, ef)
            except OSError as e:
                sys.stderr.write("relay.py: cannot start the %s (%s): %s\n" % (role, cmds[role][0], e))
                for s in sides.values():
                    kill(s)
                return 2
    finally:
        for ef in errfiles:
            ef.close()
    peer = {"initiator": sides["acceptor"], "acceptor": sides["initiator"]}
    log_lines = []
    sel = selectors.DefaultSelector()
    for s in sides.values():
        sel.register(s.out_fd, selectors.EVENT_READ, ("out", s))

    start = time.monotonic()
    deadline = start + opts["timeout"]
    last_activity = start
    stalled = False
    timed_out = False

    def update_stdin_registration(s):
        if not s.stdin_open:
            return
        key = None
        try:
            key = sel.get_key(s.in_fd)
        except KeyError:
            pass
        if s.pending_write and key is None:
            sel.register(s.in_fd, selectors.EVENT_WRITE, ("in", s))
        elif not s.pending_write and key is not None:
            sel.unregister(s.in_fd)
        if not s.pending_write and s.close_after_write:
            close_stdin(s)

    def close_stdin(s):
        if not s.stdin_open:
            return
        try:
            sel.unregister(s.in_fd)
        except KeyError:
            pass
        try:
            s.proc.stdin.close()
        except OSError:
            pass
        s.stdin_open = False
        s.pending_write = b""

    def finish_input(s):
        """No more tokens will come for s: close its stdin once drained."""
        s.close_after_write = True
        update_stdin_registration(s)

    def handle_line(s, raw):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if opts["verbose"]:
            sys.stderr.write("%s> %s\n" % (s.role, line))
        if line.startswith("TOKEN"):
            value = line[5:].strip()
            if value in ("", "-"):
                return
            value = value.lower()
            s.tokens_out += 1
            log_lines.append("%s %s" % (DIRECTION[s.role], value))
            p = peer[s.role]
            if p.stdin_open and not p.close_after_write:
                p.tokens_in += 1
                p.pending_write += (value + "\n").encode()
                update_stdin_registration(p)
        elif line.startswith("STATUS"):
            text = line[6:].strip()
            s.status = text if text else "?"
            s.statuses += 1
            word = s.status.split(" ", 1)[0]
            if word in ("COMPLETE", "ERROR"):
                # TOKEN comes before STATUS: nothing more will come from s
                # and s reads nothing more.
                s.finished = True
                finish_input(s)
                finish_input(peer[s.role])

    while True:
        if all(not s.stdout_open for s in sides.values()):
            break
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        wait = deadline - now
        both_idle = all(s.waiting_idle() for s in sides.values())
        if both_idle and not stalled:
            quiet_until = last_activity + opts["stall"]
            if now >= quiet_until:
                stalled = True
                detail = ", ".join("%s sent %d, got %d, said %s" % (s.role, s.tokens_out, s.tokens_in, s.status)
                                   for s in sides.values())
                log_lines.append("# stalled: both sides wait for a token (%s)" % detail)
                for s in sides.values():
                    finish_input(s)
                continue
            wait = min(wait, quiet_until - now)
        for key, _ in sel.select(timeout=max(wait, 0.01)):
            kind, s = key.data
            if kind == "out":
                try:
                    chunk = os.read(s.out_fd, 65536)
                except BlockingIOError:
                    continue
                last_activity = time.monotonic()
                if not chunk:
                    sel.unregister(s.out_fd)
                    s.stdout_open = False
                    if s.partial:
                        handle_line(s, s.partial)
                        s.partial = b""
                    s.finished = True
                    finish_input(s)
                    finish_input(peer[s.role])
                    continue
                s.partial += chunk
                while b"\n" in s.partial:
                    raw, s.partial = s.partial.split(b"\n", 1)
                    handle_line(s, raw)
            else:
                try:
                    n = os.write(s.in_fd, s.pending_write)
                    s.pending_write = s.pending_write[n:]
                except BlockingIOError:
                    pass
                except (BrokenPipeError, OSError):
                    # The reader has gone: what it did not read is lost.
                    close_stdin(s)
                    continue
                update_stdin_registration(s)

    # Wait for both to exit (the rest of the deadline), then kill.
    for s in sides.values():
        close_stdin(s)
        remaining = deadline - time.monotonic()
        try:
            s.returncode = s.proc.wait(timeout=max(remaining, 0.01) if not timed_out else 0.01)
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out:
        for s in sides.values():
            if s.proc.poll() is None:
                s.timed_out = True
                kill(s)
            s.returncode = s.proc.wait()
    for s in sides.values():
        try:
            s.proc.stdout.close()
        except OSError:
            pass

    def result_text(s):
        t = "STATUS %s" % (s.status if s.status is not None else "NONE")
        t += " exit %d" % s.returncode
        if s.returncode < 0:
            try:
                t += " signal %s" % signal.Signals(-s.returncode).name
            except ValueError:
                t += " signal %d" % -s.returncode
        if s.timed_out:
            t += " timeout"
        return t

    with open(log_path, "w") as f:
        for line in log_lines:
            f.write(line + "\n")
        for role in ROLES:
            f.write("result %s %s\n" % (role, result_text(sides[role])))

    def completed(s):
        return s.status is not None and s.status.split(" ", 1)[0] == "COMPLETE" and s.returncode == 0 \
            and not s.timed_out

    def failed_cleanly(s):
        error = s.status is None or s.status.split(" ", 1)[0] == "ERROR" or s.returncode != 0
        return error and s.returncode >= 0 and not s.timed_out

    if opts["expect_fail"]:
        ok = all(failed_cleanly(s) for s in sides.values())
    else:
        ok = all(completed(s) for s in sides.values())
    # A stall is a hang the relay broke: neither side would have ended.
    ok = ok and not timed_out and not stalled

    def brief(s):
        st = s.status if s.status is not None else "NONE"
        if len(st) > 70:
            st = st[:67] + "..."
        extra = " timeout" if s.timed_out else ""
        return "%s %s (exit %d%s)" % (s.role, st, s.returncode, extra)

    n_i2a = sum(1 for line in log_lines if line.startswith("i2a "))
    n_a2i = sum(1 for line in log_lines if line.startswith("a2i "))
    verdict = "PASS" if ok else "FAIL"
    want = "expected failure" if opts["expect_fail"] else "expected success"
    sys.stdout.write("relay: %s (%s): %s; %s; %d tokens i2a, %d a2i%s%s\n" % (
        verdict, want, brief(sides["initiator"]), brief(sides["acceptor"]), n_i2a, n_a2i,
        "; stalled" if stalled else "", "; timed out" if timed_out else ""))
    return 0 if ok else 1


def kill(s):
    try:
        os.killpg(s.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            s.proc.kill()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
