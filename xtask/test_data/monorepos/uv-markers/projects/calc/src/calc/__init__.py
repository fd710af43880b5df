import mathx
import numpy


def main() -> None:
    assert int(numpy.arange(4).sum()) == 6
    names = sorted([mathx.hello()])
    print("calc 1.0.0: " + ", ".join(names) + ", numpy " + numpy.__version__)
