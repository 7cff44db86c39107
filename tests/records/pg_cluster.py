"""A throwaway PostgreSQL cluster for the tests that need a real server
(#12): initdb + pg_ctl in a temporary directory, as an unprivileged user
when the tests run as root, listening only on a Unix socket in that
directory; password authentication, the password in a PGPASSFILE.

    with PgCluster() as pg:         # raises Skip when the binaries are missing
        pg.sql("CREATE DATABASE line")
        pg.conninfo("line")         # "host=/tmp/... port=5432 user=postgres dbname=line"
        pg.env                       # PGPASSFILE for the processes under test

Outside CI a missing PostgreSQL skips; with CI set it is a failure."""
import os
import pwd
import shutil
import subprocess
import tempfile
import time

PG_BIN = os.environ.get("RPIPROV_PG_BIN", "/usr/lib/postgresql/15/bin")
PASSWORD = "line-secret-7f3a"


class Skip(Exception):
    pass


def available():
    return all(os.access(os.path.join(PG_BIN, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")) \
        and shutil.which("psql") is not None


class PgCluster:
    def __init__(self, port=54329):
        self.port = port
        self.dir = None

    def _as_owner(self, args, **kw):
        if os.geteuid() == 0:
            args = ["runuser", "-u", self.user, "--"] + args
        return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)

    def __enter__(self):
        if not available():
            if os.environ.get("CI"):
                raise RuntimeError(f"PostgreSQL binaries missing in {PG_BIN} (CI is set)")
            raise Skip(f"PostgreSQL binaries missing in {PG_BIN}")
        self.dir = tempfile.mkdtemp(prefix="rpiprov-pg-")
        os.chmod(self.dir, 0o755)
        self.user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.mkdir(self.sock)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        if os.geteuid() == 0:
            uid = pwd.getpwnam(self.user).pw_uid
            for p in (self.dir, self.sock, pwfile):
                os.chown(p, uid, -1)
        r = self._as_owner([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                            "--auth=scram-sha-256", "--pwfile", pwfile, "-E", "UTF8", "--no-sync"])
        if r.returncode != 0:
            raise RuntimeError("initdb failed: " + r.stderr[-500:])
        self.passfile = os.path.join(self.dir, "pgpass")
        with open(self.passfile, "w") as f:
            f.write(f"*:*:*:postgres:{PASSWORD}\n")
        os.chmod(self.passfile, 0o600)
        self.env = dict(os.environ, PGPASSFILE=self.passfile)
        self.start()
        return self

    def start(self):
        r = self._as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w", "-l",
                            os.path.join(self.dir, "log"), "-o",
                            f"-k {self.sock} -c listen_addresses='' -p {self.port} -c fsync=off"
                            " -c max_connections=50", "start"])
        if r.returncode != 0:
            log = open(os.path.join(self.dir, "log")).read()[-800:] if os.path.exists(
                os.path.join(self.dir, "log")) else ""
            raise RuntimeError("pg_ctl start failed: " + r.stderr[-300:] + log)

    def stop(self, mode="fast"):
        self._as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w", "-m", mode, "stop"])

    def conninfo(self, db, user="postgres"):
        return f"host={self.sock} port={self.port} user={user} dbname={db}"

    def sql(self, statement, db="postgres"):
        r = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                            self.conninfo(db), "-c", statement],
                           capture_output=True, text=True, timeout=60, env=self.env)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {statement}: {r.stderr}")
        return r.stdout.strip()

    def __exit__(self, *exc):
        if self.dir:
            self.stop("immediate")
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
