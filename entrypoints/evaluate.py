"""`mlflow run . -e evaluate`: the evaluate step."""

from diamonds_mlflow import cli, evaluate

if __name__ == "__main__":
    cli.main("evaluate", evaluate.run)
