def hello() -> str:
    return "poetry2-lib 0.5.0"
