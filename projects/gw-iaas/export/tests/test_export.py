from export import main


def test_summary_names_local_packages():
    line = main.summary()
    assert "hermes.quiver" in line and "hermes.typeo" in line


def test_config_defaults_without_env(monkeypatch):
    monkeypatch.delenv("EXPORT_CONFIG", raising=False)
    assert main.load_config()["repository"]["name"] == "default"
