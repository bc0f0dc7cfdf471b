"""The study storage: embedded by default, a URL otherwise; every way it cannot be had is one
line before any run, with no password in it."""

import pytest

from msa.errors import MsaError
from msa.experiments import storage

import postgres


def test_the_embedded_storage_is_a_file_under_the_repository(tmp_path):
    store = storage.open_storage(None, tmp_path, heartbeat=5)
    assert (tmp_path / storage.EMBEDDED).is_file()
    assert store.get_heartbeat_interval() == 5
    assert storage.is_embedded(None) and not storage.is_embedded("sqlite:///x.db")


@pytest.mark.parametrize("url, said", [
    ("not a url", "not a database URL"),
    ("redis://localhost/0", "redis is not a database Optuna keeps studies in"),
    ("sqlite:////no/such/folder/studies.db", "no folder /no/such/folder to keep it in"),
])
def test_a_storage_that_cannot_be_had_is_one_line(url, said):
    with pytest.raises(MsaError) as caught:
        storage.open_storage(url)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_an_unreachable_server_is_one_line_without_its_password():
    url = f"postgresql://msa:secret@127.0.0.1:{postgres.free_port()}/studies"
    with pytest.raises(MsaError) as caught:
        storage.open_storage(url)
    said = str(caught.value)
    assert "cannot be reached" in said and "secret" not in said and "***" in said
    assert "\n" not in said
