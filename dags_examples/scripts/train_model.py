"""DP-100 seed pipeline, step 2: train a logistic regression on the prepped data, log metrics."""

import argparse
import os
import pickle

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from airflow_mlw.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--in_folder", "--folder", type=str, dest="folder")
parser.add_argument("--reg", type=float, default=0.01)
args = parser.parse_args()

run = Run.get_context()
data = pd.read_csv(os.path.join(args.folder, "data.csv"))
features = [
    "Pregnancies",
    "PlasmaGlucose",
    "DiastolicBloodPressure",
    "TricepsThickness",
    "SerumInsulin",
    "BMI",
    "DiabetesPedigree",
    "Age",
]
X_train, X_test, y_train, y_test = train_test_split(
    data[features].values, data["Diabetic"].values, test_size=0.3, random_state=0
)
model = LogisticRegression(C=1 / args.reg, solver="liblinear").fit(X_train, y_train)
run.log("Regularization Rate", args.reg)
run.log("Accuracy", float(np.average(model.predict(X_test) == y_test)))
run.log("AUC", float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])))
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "wb") as handle:
    pickle.dump(model, handle)
