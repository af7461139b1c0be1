"""The app's clients are radml sites (`radml federate site`), which speak the Fleet API themselves
and never load this module. Flower requires a ClientApp entry in every app, so this one refuses
clearly if a Python SuperNode is pointed at the app by mistake, rather than training something else."""
from flwr.app import Context, Message
from flwr.clientapp import ClientApp

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    raise RuntimeError("this Flower App's clients are radml sites: start them with `radml federate site`, not flower-supernode")


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    raise RuntimeError("this Flower App's clients are radml sites: start them with `radml federate site`, not flower-supernode")
