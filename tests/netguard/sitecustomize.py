import os

if os.environ.get("HOMELAB_NETGUARD") == "1":
    try:
        import homelab_netguard

        homelab_netguard.install()
    except Exception:  # noqa: BLE001 - never break interpreter start-up
        pass
