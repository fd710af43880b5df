import hello_world


def test_summary_names_typeo():
    assert "hermes.typeo" in hello_world.summary()
