def hello() -> str:
    return "pdm-lib 0.2.0"
