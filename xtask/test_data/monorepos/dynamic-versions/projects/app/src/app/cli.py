import core
import stamp


def main() -> None:
    print(f"app 1.0.0: {core.hello()}, {stamp.hello()}")
