import pytest

from msa.errors import MsaError, one_line_errors


def test_an_error_is_one_line_whatever_its_message_quotes(capsys):
    @one_line_errors
    def main():
        raise MsaError("data.root /tmp/a\nb\r: folder not found")

    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: data.root /tmp/a\\nb\\r: folder not found\n"
