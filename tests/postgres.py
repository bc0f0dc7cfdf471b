"""A real PostgreSQL server for the tests, started in a folder of its own and stopped after:
Debian's postgresql package (.ci/run installs it). Where none can start, the test skips with
the reason."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest


def free_port() -> int:
    """A port nobody listens on (closed again once returned)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server():
    """postgresql://msa@127.0.0.1:PORT/studies, served until the block ends."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.skip("no PostgreSQL server here (.ci/run installs Debian's postgresql)")
    bin_dir = os.path.dirname(found[-1])
    # PostgreSQL refuses to run as root: as root, its own user runs it, in a folder it owns.
    as_user = []
    folder = tempfile.mkdtemp(prefix="msa-pg-")
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("running as root and no postgres user to run PostgreSQL as")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(folder, "data"), free_port()

    def pg(*args, check=True):
        done = subprocess.run([*as_user, *args], capture_output=True, text=True)
        if check and done.returncode != 0:
            pytest.skip(f"PostgreSQL did not start here: {args[0]}: "
                        f"{(done.stderr or done.stdout).strip()[-300:]}")
        return done

    try:
        pg(f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "msa", "--no-sync")
        pg(f"{bin_dir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(folder, "log"), "-o",
           f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        pg(f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "msa", "studies")
        yield f"postgresql://msa@127.0.0.1:{port}/studies"
    finally:
        pg(f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)
