"""`mlflow run .`: the whole workflow, prepare → train → evaluate."""

from diamonds_mlflow import cli, workflow

if __name__ == "__main__":
    cli.main("main", workflow.run)
