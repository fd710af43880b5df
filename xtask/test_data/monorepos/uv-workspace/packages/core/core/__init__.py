def hello() -> str:
    return "core 0.1.0"
