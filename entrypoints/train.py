"""`mlflow run . -e train`: the train step."""

from diamonds_mlflow import cli, train

if __name__ == "__main__":
    cli.main("train", train.run)
