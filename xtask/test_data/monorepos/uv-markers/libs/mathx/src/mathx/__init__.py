def hello() -> str:
    return "mathx 0.1.0"
