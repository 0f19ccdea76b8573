"""The encrypted token store: one file per connection name exactly, private files, key rotation,
and files of the old naming still found (by their one rightful owner only)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.tokens import FernetFileStore, Tokens, TokenStoreError, connection_of, file_stem
from tests.workers.harness import ROOT

COLLIDING = ["xero-acme/eu", "xero-acme_eu", "xero-acme eu", "xero-Acme_eu", "xero-acme%2Feu", "xero-acme.eu",
             "xero-ACME_EU", "xero-acmé_eu", "xero-..", "xero-.", "xero-acme\\eu"]


def old_file_name(connection: str) -> str:
    """The naming before escaping (every character outside [alnum -_.] became "_")."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in connection) + ".tokens"


def tokens_for(name: str) -> Tokens:
    return Tokens(f"access-{name}", f"refresh-{name}", 2e9)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_names_that_used_to_collide_get_a_file_each(tmp_path):
    store = FernetFileStore(tmp_path, Fernet.generate_key())
    for name in COLLIDING:
        store.save(name, tokens_for(name))
    assert {name: store.load(name) for name in COLLIDING} == {name: tokens_for(name) for name in COLLIDING}
    assert len(list(tmp_path.glob("*.tokens"))) == len(COLLIDING)
    assert store.connections() == sorted(COLLIDING)
    assert len({file_stem(n).lower() for n in COLLIDING}) == len(COLLIDING)    # apart on a case-insensitive disk


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.sets(st.text(min_size=1, max_size=15) | st.text("aAbB./_ %2F", min_size=1, max_size=6),
                     min_size=1, max_size=8))
def test_distinct_names_never_share_a_file(tmp_path_factory, names):
    """Against a dict as the reference: what one name saved, only that name loads."""
    store = FernetFileStore(tmp_path_factory.mktemp("tok"), Fernet.generate_key())
    for name in names:
        store.save(name, tokens_for(name))
        assert connection_of(file_stem(name)) == name
    for name in names:
        assert store.load(name) == tokens_for(name)
    assert len({file_stem(n).lower() for n in names}) == len(names)      # apart on a case-insensitive disk too


def test_directory_token_and_lock_files_are_private(tmp_path):
    old_umask = os.umask(0o022)
    try:
        directory = tmp_path / "tok"
        directory.mkdir(mode=0o755)
        store = FernetFileStore(directory, Fernet.generate_key())
        with store.locked("xero-acme/eu"):
            store.save("xero-acme/eu", tokens_for("a"))
    finally:
        os.umask(old_umask)
    assert mode(directory) == 0o700
    files = list(directory.iterdir())
    assert {p.suffix for p in files} == {".tokens", ".lock"}
    assert all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}


def test_rotation_adds_a_key_then_re_encrypts_so_the_old_key_can_go(tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    FernetFileStore(tmp_path, old).save("xero-a/b", tokens_for("a"))
    FernetFileStore(tmp_path, old).save("qbo-c", tokens_for("c"))
    FernetFileStore(tmp_path, old).save_mapping("qbo-c", {"income_account": "79"})
    both = FernetFileStore(tmp_path, f"{new},{old}")
    assert both.load("xero-a/b") == tokens_for("a")                     # readable once the new key is added
    with pytest.raises(TokenStoreError):
        FernetFileStore(tmp_path, new).load("xero-a/b")                 # not yet with the new key alone
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BACKOFFICE_TOKEN_DIR": str(tmp_path),
           "BACKOFFICE_TOKEN_KEY": f"{new},{old}"}
    run = subprocess.run([sys.executable, "-m", "cli.main", "rotate-token-key"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "2 token file(s)" in run.stdout, run.stdout + run.stderr
    alone = FernetFileStore(tmp_path, new)
    assert alone.load("xero-a/b") == tokens_for("a") and alone.load("qbo-c") == tokens_for("c")
    assert alone.load_mapping("qbo-c") == {"income_account": "79"}     # the mapping beside them too
    with pytest.raises(TokenStoreError):
        FernetFileStore(tmp_path, old).load("qbo-c")
    with pytest.raises(TokenStoreError):
        FernetFileStore(tmp_path, old).load_mapping("qbo-c")
    assert all(mode(p) == 0o600 for p in tmp_path.iterdir())


def test_files_of_the_old_naming_are_found_by_their_owner_only(tmp_path):
    key = Fernet.generate_key()
    for name in ("xero-acme_eu", "xero-Acme"):          # written by the old code
        (tmp_path / old_file_name(name)).write_bytes(Fernet(key).encrypt(
            f'{{"access_token": "old-{name}", "refresh_token": "r", "expires_at": 1}}'.encode()))
    store = FernetFileStore(tmp_path, key)
    # "xero-acme/eu" would have been squashed into xero-acme_eu.tokens: it never takes that grant.
    assert store.load("xero-acme/eu") is None and store.load("xero-acme eu") is None
    assert store.load("xero-Acme").access_token == "old-xero-Acme"
    assert store.load("xero-acme_eu").access_token == "old-xero-acme_eu"
    assert sorted(p.name for p in tmp_path.glob("*.tokens")) == ["xero-%41cme.tokens", "xero-acme_eu.tokens"]
    store.save("xero-acme/eu", tokens_for("slash"))
    assert store.load("xero-acme_eu").access_token == "old-xero-acme_eu"
    assert store.load("xero-acme/eu") == tokens_for("slash")
