"""The guard that keeps the suite offline really blocks: a test reaching out fails loudly."""

import socket
import urllib.request

import pytest

from netguard import NetworkBlocked


def test_outside_connection_fails_loudly():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    with pytest.raises(NetworkBlocked):
        urllib.request.urlopen("https://huggingface.co/api/models", timeout=1)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()


def test_model_loading_sets_offline_switches(embedder):
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
