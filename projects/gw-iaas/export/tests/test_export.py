from export import main


def test_summary_names_local_packages():
    line = main.summary()
    assert "hermes.quiver" in line and "hermes.typeo" in line
