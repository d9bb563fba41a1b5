"""`homelab destroy` through the CLI: it lists what the state holds for the layers, and refuses to delete
without the lab's name typed back (or given to --yes-destroy); a wrong name deletes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from fake_engine import fake_engines, lookup
from k3s_lab import write_lab

import homelab
from homelab.apply import open_session


def cli(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMELAB_STATE", "VAULT_"))}
    env["HOMELAB_STATE_DIR"] = str(cwd / "state")
    return subprocess.run([sys.executable, "-m", "homelab", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=120)


def applied_lab(tmp_path):
    path = write_lab(tmp_path)
    doc = homelab.load(str(path))
    s = open_session(doc, state_dir=tmp_path / "state", workdir=tmp_path, engines=lookup(fake_engines()))
    assert not s.apply(s.plan()).failed
    addresses = sorted(s.store.resources())
    s.close()
    return path, addresses


def test_plan_only_lists_every_resource_of_the_layers(tmp_path):
    path, addresses = applied_lab(tmp_path)
    proc = cli("destroy", str(path), "--layer", "clusters", "--plan-only", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    k3s = [a for a in addresses if a.startswith("k3s_")]
    assert len(k3s) == 4
    for address in k3s:
        assert address in proc.stdout
    assert "destroy: 4 resource(s) of clusters will be deleted" in proc.stderr
    assert "proxmox_vm." not in proc.stdout


def test_no_confirmation_no_destroy(tmp_path):
    path, addresses = applied_lab(tmp_path)
    wrong = cli("destroy", str(path), "--layer", "clusters", "--yes-destroy", "other", cwd=tmp_path)
    assert wrong.returncode == 2 and "--yes-destroy 'other' is not this lab's name" in wrong.stderr
    no_tty = cli("destroy", str(path), "--layer", "clusters", cwd=tmp_path)
    assert no_tty.returncode == 2 and "--yes-destroy upg" in no_tty.stderr
    s = open_session(homelab.load(str(path)), state_dir=tmp_path / "state", workdir=tmp_path,
                     engines=lookup(fake_engines()))
    assert sorted(s.store.resources()) == addresses  # nothing was deleted
    s.close()


def test_unknown_layer_is_refused(tmp_path):
    path, _ = applied_lab(tmp_path)
    proc = cli("destroy", str(path), "--layer", "vm", cwd=tmp_path)
    assert proc.returncode == 2 and "not a layer" in proc.stderr and "Traceback" not in proc.stderr
