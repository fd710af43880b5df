import tomllib
from pathlib import Path

import tools
from tabulate import tabulate

CONFIG = Path(__file__).resolve().parent / "config" / "report.toml"


def main() -> None:
    with CONFIG.open("rb") as f:
        config = tomllib.load(f)
    rows = [[row["item"], row["count"]] for row in config["rows"]]
    rows.append(["total", tools.total([count for _, count in rows])])
    print("report: " + tools.hello())
    print(tabulate(rows, headers=["item", "count"], tablefmt="github"))


if __name__ == "__main__":
    main()
