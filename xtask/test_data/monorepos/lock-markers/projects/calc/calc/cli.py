import mathx
import numpy

from calc import __version__


def main() -> None:
    values = numpy.arange(1, 5)
    assert float(values.mean()) == mathx.mean(values.tolist())
    libs = ", ".join(sorted([mathx.hello()]))
    print(f"calc {__version__}: {libs}, numpy {numpy.__version__}")


if __name__ == "__main__":
    main()
