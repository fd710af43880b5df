from clients import cli


def test_summary_names_every_local_package():
    line = cli.summary()
    for dist in ("hermes.gwftools", "hermes.quiver", "hermes.stillwater", "hermes.typeo"):
        assert dist in line
