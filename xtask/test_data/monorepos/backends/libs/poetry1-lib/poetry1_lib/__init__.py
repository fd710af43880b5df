import idna


def hello() -> str:
    return "poetry1-lib 0.4.0"


def ascii_host(host: str) -> str:
    return idna.encode(host).decode("ascii")
