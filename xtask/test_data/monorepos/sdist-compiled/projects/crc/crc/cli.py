import importlib.util

import crcmod.predefined


def main() -> None:
    crc32 = crcmod.predefined.mkCrcFun("crc-32")
    # crcmod falls back to pure Python when its C extension did not compile: say which.
    compiled = importlib.util.find_spec("crcmod._crcfunext") is not None
    print(f"crc 0.1.0: crc-32 {crc32(b'monorepo'):08x}, compiled extension {compiled}")
