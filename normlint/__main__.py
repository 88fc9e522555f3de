from normlint.cli import run

run()
