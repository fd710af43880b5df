import setuptools

setuptools.setup(
    name="beta",
    version="0.3.0",
    packages=["beta"],
    install_requires=["six"],
)
