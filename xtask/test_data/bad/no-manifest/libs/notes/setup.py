print('a folder with code but no pyproject.toml')
