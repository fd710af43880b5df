import flit_lib
import hatch_lib
import pdm_lib
import poetry1_lib
import poetry2_lib
import six


def main() -> None:
    # poetry1-lib needs idna (declared in [tool.poetry.dependencies]).
    assert poetry1_lib.ascii_host("bücher.example") == "xn--bcher-kva.example"
    names = sorted(
        [
            hatch_lib.hello(),
            pdm_lib.hello(),
            flit_lib.hello(),
            poetry1_lib.hello(),
            poetry2_lib.hello(),
        ]
    )
    six.print_("all 1.0.0: " + ", ".join(names))
