"""`mlflow run . -e prepare`: the prepare step."""

from diamonds_mlflow import cli, prepare

if __name__ == "__main__":
    cli.main("prepare", prepare.run)
