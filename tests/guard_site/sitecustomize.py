"""Put on PYTHONPATH of subprocesses the tests start, so the network guard holds in them too."""

import netguard

netguard.install()
