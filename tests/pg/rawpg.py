"""rawpg.py - a minimal PostgreSQL protocol v3 client for bad-input tests: it can
send well-formed or deliberately broken bytes and read what comes back."""
import json
import os
import socket
import struct
import sys
import time
import urllib.request


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s


def startup(s, user="postgres", database="appdb"):
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    return read_until(s, b"Z")


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def read_msg(s):
    hdr = recv_exact(s, 5)
    t, n = hdr[:1], struct.unpack("!i", hdr[1:])[0]
    return t, recv_exact(s, n - 4)


def read_until(s, stop):
    """Reads messages until one of type `stop`; returns the list. Raises EOFError."""
    msgs = []
    while True:
        t, body = read_msg(s)
        msgs.append((t, body))
        if t == stop or (t == b"E" and b"SFATAL" in body):
            return msgs


def fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode(errors="replace")
    return out


def query(s, sql):
    s.sendall(b"Q" + struct.pack("!i", 4 + len(sql) + 1) + sql.encode() + b"\0")
    return read_until(s, b"Z")


def ext(sql, params=()):
    """Parse (unnamed) + Bind + Describe portal + Execute for one statement."""
    p = b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0)
    b = b"\0\0" + struct.pack("!h", 0) + struct.pack("!h", len(params))
    for v in params:
        b += struct.pack("!i", len(v)) + v.encode()
    b += struct.pack("!h", 0)
    msgs = [(b"P", p), (b"B", b), (b"D", b"P\0"), (b"E", b"\0" + struct.pack("!i", 0))]
    return b"".join(t + struct.pack("!i", 4 + len(m)) + m for t, m in msgs)


SYNC = b"S" + struct.pack("!i", 4)


def frame(t, body):
    return t + struct.pack("!i", 4 + len(body)) + body


def parse(name, sql):
    return frame(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))


def bind_exec(portal, stmt):
    b = portal.encode() + b"\0" + stmt.encode() + b"\0" + struct.pack("!hhh", 0, 0, 0)
    return frame(b"B", b) + frame(b"E", portal.encode() + b"\0" + struct.pack("!i", 0))


def kinds(msgs):
    return " ".join(m[0].decode() + (":" + fields(m[1])["C"] if m[0] == b"E" else "") for m in msgs)


def wait_pending(kind):
    """Polls the gateway ($COUNTERSIGN_URL, $ADMIN_TOKEN) for a pending action."""
    url = os.environ["COUNTERSIGN_URL"] + "/v1/actions?status=pending&limit=50"
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["ADMIN_TOKEN"]})
    for _ in range(400):
        items = json.load(urllib.request.urlopen(req)).get("items", [])
        if any(x.get("context", {}).get("statement") == kind for x in items):
            return
        time.sleep(0.05)
    raise SystemExit("no pending " + kind)


def closed(s):
    """True when the peer closed the connection (after draining what it sent)."""
    try:
        while True:
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def main():
    port = int(sys.argv[2])
    case = sys.argv[1]
    s = connect(port)
    if case == "latin1-user":
        params = b"user\0caf\xe9\0database\0appdb\0\0"
        s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        t, body = read_msg(s)
        print(t.decode(), fields(body).get("C"), "closed" if closed(s) else "open")
        return
    if case == "absurd-startup":
        s.sendall(struct.pack("!ii", 0x7FFFFFF0, 196608))
        t, body = read_msg(s)
        print(t.decode(), fields(body).get("C"), "closed" if closed(s) else "open")
    elif case == "absurd-message":
        startup(s)
        s.sendall(b"Q" + struct.pack("!I", 0xFFFFFFF0) + b"SELECT 1")
        t, body = read_msg(s)
        print(t.decode(), fields(body).get("C"), "closed" if closed(s) else "open")
    elif case == "short-length":
        startup(s)
        s.sendall(b"Q" + struct.pack("!i", 2))
        t, body = read_msg(s)
        print(t.decode(), fields(body).get("C"), "closed" if closed(s) else "open")
    elif case == "bad-type":
        startup(s)
        s.sendall(b"z" + struct.pack("!i", 4))
        t, body = read_msg(s)
        print(t.decode(), fields(body).get("C"), "closed" if closed(s) else "open")
    elif case == "malformed-query":
        startup(s)
        s.sendall(b"Q" + struct.pack("!i", 8) + b"SELE")  # no terminator
        msgs = read_until(s, b"Z")
        print(" ".join(m[0].decode() for m in msgs), fields(msgs[0][1]).get("C"))
        print(query(s, "SELECT 7")[1][0].decode())  # still usable: a DataRow comes
    elif case == "pipeline-ok":
        startup(s)
        s.sendall(ext("SELECT 1") + ext("SELECT $1::int", ["2"]) + ext("SELECT owner FROM accounts WHERE id = 3") + SYNC)
        print(kinds(read_until(s, b"Z")))
    elif case == "pipeline-denied":
        startup(s)
        s.sendall(ext("INSERT INTO scratch VALUES (901)") + ext("DROP TABLE scratch") + SYNC)
        out = kinds(read_until(s, b"Z"))
        n = [b for t, b in query(s, "SELECT count(*) FROM scratch WHERE id = 901") if t == b"D"][0][6:].decode()
        print(out, "|", n)
    elif case == "pipeline-two":
        startup(s)
        s.sendall(ext("SELECT 1") + SYNC + ext("DROP TABLE scratch") + SYNC)
        print(kinds(read_until(s, b"Z") + read_until(s, b"Z")))
    elif case == "stale-name":
        # A Parse the server refused must not define the name for the proxy.
        startup(s)
        s.sendall(parse("s1", "SELECT * FROM no_such_table") + SYNC)
        a = kinds(read_until(s, b"Z"))
        s.sendall(parse("s1", "DROP TABLE scratch") + SYNC)
        b = kinds(read_until(s, b"Z"))
        s.sendall(bind_exec("p", "s1") + SYNC)
        print(a, "|", b, "|", kinds(read_until(s, b"Z")))
    elif case == "redefine":
        # A second Parse of an existing name fails on the server: the proxy keeps
        # deciding on the statement the server really has.
        startup(s)
        s.sendall(parse("s2", "DROP TABLE scratch") + SYNC)
        a = kinds(read_until(s, b"Z"))
        s.sendall(parse("s2", "SELECT 1") + SYNC)
        b = kinds(read_until(s, b"Z"))
        s.sendall(bind_exec("", "s2") + SYNC)
        print(a, "|", b, "|", kinds(read_until(s, b"Z")))
    elif case == "unknown-portal":
        startup(s)
        s.sendall(b"E" + struct.pack("!i", 4 + 5 + 4) + b"nope\0" + struct.pack("!i", 0) + SYNC)
        print(kinds(read_until(s, b"Z")))
    elif case == "sql-prepare":
        startup(s)
        print(kinds(query(s, "PREPARE wipe AS DELETE FROM accounts")))
    elif case == "ssl-injection":
        # Plaintext smuggled behind an SSLRequest must not be taken as TLS data.
        s.sendall(struct.pack("!ii", 8, 80877103) + frame(b"Q", b"SELECT 1\0"))
        t, body = read_msg(s)
        print(t.decode(), fields(body).get("C"), "closed" if closed(s) else "open")
    elif case == "cancel-in-txn":
        # A statement held inside a transaction block, cancelled with the backend
        # key: 57014, the block is aborted (25P02) until ROLLBACK.
        msgs = startup(s)
        pid, key = struct.unpack("!II", [b for t, b in msgs if t == b"K"][0])
        query(s, "BEGIN")
        s.sendall(frame(b"Q", b"DELETE FROM accounts WHERE id = 11\0"))
        wait_pending("delete")
        c = connect(port)
        c.sendall(struct.pack("!iiII", 16, 80877102, pid, key))
        c.close()
        # (whether the hold notice came before the cancel depends on timing: skip it)
        held = [m for m in read_until(s, b"Z") if m[0] != b"N"]
        after = query(s, "SELECT 1")
        end = query(s, "ROLLBACK")
        status = lambda ms: ms[-1][1].decode()
        print(kinds(held), status(held), "|", kinds(after), status(after), "|", kinds(end), status(end))
    elif case == "truncated":
        startup(s)
        s.sendall(b"Q" + struct.pack("!i", 100) + b"SELECT")
        s.close()
        print("sent")
    elif case == "protocol2":
        s.sendall(struct.pack("!ii", 8, 2 << 16))
        t, body = read_msg(s)
        print(t.decode(), fields(body).get("C"), "closed" if closed(s) else "open")
    elif case == "ssl":
        s.sendall(struct.pack("!ii", 8, 80877103))
        print(recv_exact(s, 1).decode(), [m[0].decode() for m in startup(s)][-1])
    elif case == "idle":
        # Logs in, prints its backend pid, waits for a line on stdin, then queries.
        startup(s)
        row = [body for t, body in query(s, "SELECT pg_backend_pid()") if t == b"D"][0]
        print(row[6:].decode(), flush=True)  # Int16 columns, Int32 length, value
        sys.stdin.readline()
        try:
            msgs = query(s, "SELECT 1")
            print("answered", " ".join(m[0].decode() + ":" + fields(m[1]).get("C", "") for m in msgs))
        except EOFError:
            print("closed")
        print("closed" if closed(s) else "open")
    else:
        raise SystemExit("unknown case " + case)


if __name__ == "__main__":
    main()
