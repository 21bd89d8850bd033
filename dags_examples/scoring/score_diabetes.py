"""DP-100 scoring script, ported: the diabetes classifier behind a scoring service."""

import json
import os
import pickle

import numpy as np


def init():
    global model
    # Azure's variable: the folder of the (single) deployed model's version.
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "diabetes_model.pkl")
    with open(model_path, "rb") as handle:
        model = pickle.load(handle)


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    predictions = model.predict(data)
    classnames = ["not-diabetic", "diabetic"]
    return json.dumps([classnames[prediction] for prediction in predictions])
