def hello() -> str:
    return "pylock-base 0.1.0"
