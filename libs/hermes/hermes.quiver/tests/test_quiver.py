from hermes import quiver


def test_model_table_lists_every_model():
    table = quiver.model_table({"b": 2, "a": 1})
    assert "a" in table and "b" in table


def test_load_repo_config_uses_typeo():
    assert quiver.load_repo_config("x = 3") == {"x": 3}
