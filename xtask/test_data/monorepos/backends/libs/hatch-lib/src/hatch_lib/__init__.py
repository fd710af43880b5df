def hello() -> str:
    return "hatch-lib 0.1.0"
