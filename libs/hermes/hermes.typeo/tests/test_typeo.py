from hermes import typeo


def test_describe_names_the_distribution():
    assert typeo.describe().startswith("hermes.typeo ")


def test_parse_config():
    assert typeo.parse_config('a = 1\n[b]\nc = "d"\n') == {"a": 1, "b": {"c": "d"}}
