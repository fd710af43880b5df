import attrs
import common

from modern import __version__


@attrs.frozen
class Banner:
    name: str
    version: str

    def render(self, libs: list[str]) -> str:
        return f"{self.name} {self.version}: " + ", ".join(sorted(libs))


def main() -> None:
    print(Banner("modern", __version__).render([common.hello()]))


if __name__ == "__main__":
    main()
